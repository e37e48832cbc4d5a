/**
 * Completions from producers nobody here wrote (the official CloudEvents SDK: UUIDv4 ids, structured and binary
 * mode; and ULID ids) land in ClickHouse exactly once per admission, with what the ledger charged and what the
 * allowance covered split, and a second completion of the same admission under a new id adds no row, count or charge
 * to request_usage or the rollups.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS, SOURCES, goldenEvent, makeEvent, newEventId, toKafkaMessage, type UsageRequestCompletedV1 } from '@access/contracts';
import { Clickhouse, identifier, migrateClickhouse } from '@access/platform-clickhouse';
import { EventProducer, KafkaAdmin, createKafka, sleep, type Kafka } from '@access/platform-kafka';
import { createLogger } from '@access/platform-observability';
import { newUlid, requireStack, sdkKafkaMessage, testName, type SdkMode } from '@access/testing';
import { defaultIngestLimits } from '@access/usage-domain';
import { ClickhouseUsageStore } from './clickhouse-usage-store';
import { IngestMetrics } from './metrics';
import { UsageSink } from './usage-sink';

const migrationsDir = join(__dirname, '..', '..', '..', '..', 'infra', 'clickhouse', 'migrations');
/** Every completion here costs this much by the test's price book. */
const costCredits = 50;

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe('usage-ingest with completions from other CloudEvents producers', () => {
  let kafka: Kafka;
  let admin: KafkaAdmin;
  let producer: EventProducer;
  let ch: Clickhouse;
  let sink: UsageSink;
  const database = testName('interop');
  const topics = { admissions: testName('adm'), usage: testName('usage'), dlq: testName('dlq') };
  const accountId = 'acct-interop';

  beforeAll(async () => {
    const stack = await requireStack(['kafka', 'clickhouse']);
    await migrateClickhouse({ url: stack.clickhouseUrl, database, dir: migrationsDir });
    ch = new Clickhouse({ url: stack.clickhouseUrl, database });
    kafka = createKafka({ brokers: stack.kafkaBrokers, clientId: 'usage-interop-test' });
    admin = new KafkaAdmin(kafka);
    await admin.connect();
    await admin.ensureTopics([
      { name: topics.admissions, partitions: 2, compacted: false },
      { name: topics.usage, partitions: 2, compacted: false },
      { name: topics.dlq, partitions: 1, compacted: false },
    ]);
    producer = new EventProducer(kafka, { lingerMs: 5 });
    await producer.connect();
    sink = new UsageSink({
      kafka, producer, store: new ClickhouseUsageStore(ch), logger: createLogger('usage-interop-test', 'silent'), metrics: new IngestMetrics(),
      price: () => ({ ok: true, credits: costCredits }),
      limits: { ...defaultIngestLimits, retryBackoffMsMax: 300, batchWaitMsMax: 50 },
      topics: [{ table: 'admission_decisions', topic: topics.admissions }, { table: 'request_usage', topic: topics.usage }],
      groupId: testName('sink'), deadLetterTopic: topics.dlq,
    });
    await sink.start();
  });
  afterAll(async () => {
    await sink?.stop();
    await producer?.disconnect();
    await admin?.deleteTopics(Object.values(topics)).catch(() => undefined);
    await admin?.disconnect();
    await ch?.command(`DROP DATABASE IF EXISTS ${identifier(database)}`);
    await ch?.close();
  });

  const query = <T>(sql: string) => ch.query<T>(sql);

  /** An admitted decision, as admission publishes it, with `allowanceCredits` of its estimate paid by allowance. */
  function decision(admissionId: string, allowanceCredits: number) {
    const now = new Date().toISOString();
    const estimatedCredits = Math.max(costCredits, allowanceCredits);
    const golden = goldenEvent(EVENTS.admissionDecided).data;
    return makeEvent(EVENTS.admissionDecided, {
      id: newEventId(), source: SOURCES.admission, time: now,
      data: {
        ...golden, admissionId, accountId, requestId: `req-${admissionId.slice(-8)}`, decision: 'admitted', reason: null, decidedAt: now, estimatedCredits,
        fundedBy: [{ source: 'allowance', window: '5h', credits: allowanceCredits }, { source: 'credits', credits: estimatedCredits - allowanceCredits }],
        heldCredits: estimatedCredits - allowanceCredits, decidedBy: 'credits', reservationExpiresAt: new Date(Date.now() + 3_600_000).toISOString(),
      },
    });
  }

  function completionData(admissionId: string, extra: Partial<UsageRequestCompletedV1> = {}): UsageRequestCompletedV1 {
    const now = new Date().toISOString();
    return {
      admissionId, requestId: `req-${admissionId.slice(-8)}`, accountId, userId: 'u-1', model: 'codex-1', endpoint: 'code.complete', status: 'succeeded',
      meters: { input_tokens: 1000, output_tokens: 1000 }, dimensions: {}, gpuSeconds: 1.5, durationMs: 1200, startedAt: now, endedAt: now, ...extra,
    };
  }

  const sdkCompletion = (data: UsageRequestCompletedV1, mode: SdkMode, id?: string) =>
    ({ topic: topics.usage, ...sdkKafkaMessage({ type: EVENTS.usageRequestCompleted, source: '//video-service.example/eu', subject: accountId, data, ...(id ? { id } : {}) }, mode, accountId) });

  it('stores each completed request once, whatever id, mode or retry, with the charge split as the ledger splits it', async () => {
    const admissions = [newEventId(), newEventId(), newEventId(), newEventId()];
    await producer.sendMany([
      { topic: topics.admissions, ...toKafkaMessage(decision(admissions[0]!, 30)) },
      { topic: topics.admissions, ...toKafkaMessage(decision(admissions[1]!, 0)) },
      { topic: topics.admissions, ...toKafkaMessage(decision(admissions[2]!, 80)) },
    ]);
    const twice = sdkCompletion(completionData(admissions[1]!), 'binary');
    await producer.sendMany([
      sdkCompletion(completionData(admissions[0]!), 'structured'), // the SDK's UUIDv4
      twice, // the SDK's UUIDv4, binary mode
      sdkCompletion(completionData(admissions[2]!), 'structured', newUlid()),
      // No decision was ever published for this one: charged in full once the decisions consumer is past it.
      sdkCompletion(completionData(admissions[3]!), 'binary', newUlid()),
      // The same message again (a redelivery), and a producer retry that rebuilt its envelope: new id, other content.
      twice,
      sdkCompletion(completionData(admissions[0]!, { meters: { input_tokens: 9000, output_tokens: 9000 }, durationMs: 99_000 }), 'binary'),
    ]);

    await until('four rows', async () => Number((await query<{ n: string }>('SELECT count(admission_id) AS n FROM request_usage'))[0]?.n) >= 4);
    await sleep(2_000); // anything more that was going to land would have landed by now
    const rows = await query<{ admission_id: string; charged_credits: string; allowance_credits: string; duration_ms: string; event_source: string }>(
      'SELECT admission_id, charged_credits, allowance_credits, duration_ms, event_source FROM request_usage ORDER BY admission_id',
    );
    expect(rows.map((r) => [r.admission_id, Number(r.charged_credits), Number(r.allowance_credits), Number(r.duration_ms)])).toEqual([
      [admissions[0], 20, 30, 1200],
      [admissions[1], 50, 0, 1200],
      [admissions[2], 0, 50, 1200],
      [admissions[3], 50, 0, 1200],
    ]);
    expect(new Set(rows.map((r) => r.event_source))).toEqual(new Set(['//video-service.example/eu']));
    const [rollup] = await query<{ requests: string; charged: string; allowance: string; duration: string }>(
      'SELECT sum(requests) AS requests, sum(charged_credits) AS charged, sum(allowance_credits) AS allowance, sum(duration_ms) AS duration FROM usage_minutely',
    );
    expect(rollup).toEqual({ requests: '4', charged: '120', allowance: '80', duration: '4800' });
    const [activity] = await query<{ completions: string }>('SELECT sum(completions) AS completions FROM user_activity_minutely');
    expect(activity?.completions).toBe('4');
  });

  it('after a restart (state recovered from ClickHouse), a later completion of a stored admission adds nothing', async () => {
    await sink.stop();
    const [stored] = await query<{ admission_id: string }>('SELECT admission_id FROM request_usage LIMIT 1');
    sink = new UsageSink({
      kafka, producer, store: new ClickhouseUsageStore(ch), logger: createLogger('usage-interop-test', 'silent'), metrics: new IngestMetrics(),
      price: () => ({ ok: true, credits: costCredits }),
      limits: { ...defaultIngestLimits, retryBackoffMsMax: 300, batchWaitMsMax: 50 },
      topics: [{ table: 'admission_decisions', topic: topics.admissions }, { table: 'request_usage', topic: topics.usage }],
      groupId: testName('sink-restarted'), deadLetterTopic: topics.dlq,
    });
    // A new group reads both topics from the beginning: everything is below the watermark or a known admission.
    await sink.start();
    const late = newEventId();
    await producer.sendMany([
      sdkCompletion(completionData(stored!.admission_id, { status: 'failed', durationMs: 5 }), 'structured', newUlid()),
      { topic: topics.admissions, ...toKafkaMessage(decision(late, 0)) },
      sdkCompletion(completionData(late), 'structured'),
    ]);
    await until('the new admission', async () => Number((await query<{ n: string }>('SELECT count(admission_id) AS n FROM request_usage'))[0]?.n) >= 5);
    await sleep(2_000);
    const [totals] = await query<{ rows: string; admissions: string; failed: string }>(
      "SELECT count(admission_id) AS rows, uniqExact(admission_id) AS admissions, countIf(status = 'failed') AS failed FROM request_usage",
    );
    expect(totals).toEqual({ rows: '5', admissions: '5', failed: '0' });
    const [rollup] = await query<{ requests: string }>('SELECT sum(requests) AS requests FROM usage_minutely');
    expect(rollup?.requests).toBe('5');
  });
});
