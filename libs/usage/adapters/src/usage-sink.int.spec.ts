import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS, SOURCES, makeEvent, newEventId, type AnyAccessEvent } from '@access/contracts';
import { Clickhouse, identifier, migrateClickhouse } from '@access/platform-clickhouse';
import { EventProducer, KafkaAdmin, createKafka, encodeEvent, sleep, type Kafka } from '@access/platform-kafka';
import { createLogger } from '@access/platform-observability';
import { requireStack, testName, type Stack } from '@access/testing';
import { defaultIngestLimits, type IngestLimits } from '@access/usage-domain';
import { ClickhouseUsageStore } from './clickhouse-usage-store';
import { IngestMetrics } from './metrics';
import { UsageSink } from './usage-sink';

const migrationsDir = join(__dirname, '..', '..', '..', '..', 'infra', 'clickhouse', 'migrations');
const logger = createLogger('usage-sink-test', 'silent');

/** A TCP proxy in front of ClickHouse that can be taken down (connections refused) and brought back. */
class Switch {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  constructor(
    private readonly target: { host: string; port: number },
    readonly port: number,
  ) {}
  async up(): Promise<void> {
    this.server = createServer((client) => {
      const upstream = createConnection(this.target);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
  }
  async down(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = undefined;
  }
}

function completion(accountId: string, n: number): AnyAccessEvent {
  const t = new Date().toISOString();
  return makeEvent(EVENTS.usageRequestCompleted, {
    id: newEventId(), source: '/fleet/test', time: t,
    data: {
      admissionId: newEventId(), requestId: `req-${n}`, accountId, userId: 'u-1', model: 'codex-1', endpoint: 'code.complete', status: 'succeeded',
      meters: { input_tokens: 1000, output_tokens: 1000 }, dimensions: {}, gpuSeconds: 0.5, durationMs: 10, startedAt: t, endedAt: t,
    },
  });
}

function granted(accountId: string, version: number): AnyAccessEvent {
  const t = new Date().toISOString();
  return makeEvent(EVENTS.creditsGranted, {
    id: newEventId(), source: SOURCES.creditLedger, time: t,
    data: { accountId, version, occurredAt: t, grantId: `g-${version}`, credits: 100, source: 'promo', priority: 1, effectiveAt: t, expiresAt: null },
  });
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe('UsageSink against real Kafka and ClickHouse', () => {
  let stack: Stack;
  let kafka: Kafka;
  let admin: KafkaAdmin;
  let producer: EventProducer;
  let ch: Clickhouse;
  const database = testName('sink');
  const topics = { usage: testName('usage'), ledger: testName('ledger'), dlq: testName('dlq') };

  beforeAll(async () => {
    stack = await requireStack(['kafka', 'clickhouse']);
    await migrateClickhouse({ url: stack.clickhouseUrl, database, dir: migrationsDir });
    ch = new Clickhouse({ url: stack.clickhouseUrl, database });
    kafka = createKafka({ brokers: stack.kafkaBrokers, clientId: 'usage-sink-test' });
    admin = new KafkaAdmin(kafka);
    await admin.connect();
    await admin.ensureTopics([
      { name: topics.usage, partitions: 2, compacted: false },
      { name: topics.ledger, partitions: 1, compacted: false },
      { name: topics.dlq, partitions: 1, compacted: false },
    ]);
    producer = new EventProducer(kafka, { lingerMs: 5 });
    await producer.connect();
  });
  afterAll(async () => {
    await producer?.disconnect();
    await admin?.deleteTopics(Object.values(topics)).catch(() => undefined);
    await admin?.disconnect();
    await ch?.command(`DROP DATABASE IF EXISTS ${identifier(database)}`);
    await ch?.close();
  });

  const count = async (table: string) => Number((await ch.query<{ n: string }>(`SELECT count(event_id) AS n FROM ${identifier(table)}`))[0]?.n);
  const distinct = async (table: string) => Number((await ch.query<{ n: string }>(`SELECT uniqExact(event_id) AS n FROM ${identifier(table)}`))[0]?.n);
  const publish = (topic: string, events: AnyAccessEvent[]) => producer.sendMany(events.map((e) => encodeEvent(e, topic)));

  function sink(options: { chUrl: string; groupId: string; limits?: Partial<IngestLimits>; metrics: IngestMetrics; table: 'request_usage' | 'ledger_entries' }) {
    const store = new ClickhouseUsageStore(new Clickhouse({ url: options.chUrl, database, requestTimeoutMs: 5_000 }));
    return new UsageSink({
      kafka, producer, store, logger, metrics: options.metrics,
      price: () => ({ ok: true, credits: 1 }),
      limits: { ...defaultIngestLimits, retryBackoffMsMax: 300, batchWaitMsMax: 50, ...options.limits },
      topics: [{ table: options.table, topic: options.table === 'request_usage' ? topics.usage : topics.ledger }],
      groupId: options.groupId, deadLetterTopic: topics.dlq,
    });
  }

  it('when ClickHouse is down, stops committing, retries with backoff, and then stores everything exactly once', async () => {
    const chPort = Number(new URL(stack.clickhouseUrl).port || 8123);
    const proxy = new Switch({ host: new URL(stack.clickhouseUrl).hostname, port: chPort }, 18_000 + Math.floor(Math.random() * 2_000));
    await proxy.up();
    const metrics = new IngestMetrics();
    const groupId = testName('g');
    const s = sink({ chUrl: `http://127.0.0.1:${proxy.port}`, groupId, metrics, table: 'request_usage' });
    await s.start();
    const before = Array.from({ length: 300 }, (_, i) => completion(`acct-${i % 7}`, i));
    await publish(topics.usage, before);
    await until('the first 300 rows', async () => (await count('request_usage')) === 300);

    // Given ClickHouse is unreachable, when more events (and copies of earlier ones) arrive…
    await proxy.down();
    const during = Array.from({ length: 200 }, (_, i) => completion(`acct-${i % 7}`, 1_000 + i));
    await publish(topics.usage, [...during, ...before.slice(0, 5)]);
    await until('a retry', async () => ((await metrics.retries.get()).values[0]?.value ?? 0) >= 2);
    // …then nothing past the stored rows is committed: the messages stay in Kafka.
    const committed = await admin.committedOffsets(`${groupId}.request_usage`, topics.usage);
    const high = await admin.highWatermarks(topics.usage);
    const lag = [...high].reduce((sum, [p, end]) => sum + Number(end - (committed.get(p) ?? 0n)), 0);
    expect(lag).toBeGreaterThanOrEqual(200);

    // When it is back, everything lands, once.
    await proxy.up();
    await until('all 500 rows', async () => (await count('request_usage')) >= 500);
    await sleep(500);
    await s.stop();
    await proxy.down();
    expect(await count('request_usage')).toBe(500);
    expect(await distinct('request_usage')).toBe(500);
  });

  it('skips events republished long after they were stored (a ledger replay) by looking them up in ClickHouse', async () => {
    const groupId = testName('g');
    const events = Array.from({ length: 50 }, (_, i) => granted('acct-replay', i + 1));
    await publish(topics.ledger, events);
    const first = sink({ chUrl: stack.clickhouseUrl, groupId, metrics: new IngestMetrics(), table: 'ledger_entries' });
    await first.start();
    await until('50 ledger rows', async () => (await count('ledger_entries')) === 50);
    await first.stop();

    // A new instance keeps only 10 ids in memory, so the republished events are older than its window.
    await sleep(50);
    const metrics = new IngestMetrics();
    const second = sink({ chUrl: stack.clickhouseUrl, groupId, metrics, table: 'ledger_entries', limits: { dedupeWindowIdsPerPartitionMax: 10, clockSkewMarginMs: 0 } });
    await second.start();
    await publish(topics.ledger, [...events, granted('acct-replay', 51)]);
    await until('the new event', async () => (await count('ledger_entries')) >= 51);
    await sleep(500);
    await second.stop();
    expect(await count('ledger_entries')).toBe(51);
    const skipped = (await metrics.rowsSkipped.get()).values;
    const byReason = (reason: string) => skipped.filter((v) => v.labels.reason === reason).reduce((n, v) => n + v.value, 0);
    expect(byReason('duplicate_recent') + byReason('found_in_clickhouse')).toBe(50);
    expect(byReason('found_in_clickhouse')).toBeGreaterThanOrEqual(40);
  });

  it('drops month partitions older than the retention period from every table and rollup', async () => {
    const db = new Clickhouse({ url: stack.clickhouseUrl, database });
    const store = new ClickhouseUsageStore(db);
    await ch.command(`INSERT INTO request_usage (time, event_id, account_id, status) VALUES ('2020-01-15 10:00:00', 'old-1', 'acct-old', 'succeeded'), (now(), 'new-1', 'acct-old', 'succeeded')`);
    const dropped = await store.dropExpired(Date.now(), 30);
    expect(dropped).toEqual(expect.arrayContaining([
      { table: 'request_usage', partition: '202001' },
      { table: 'usage_minutely', partition: '202001' },
      { table: 'user_activity_minutely', partition: '202001' },
    ]));
    const left = await ch.query<{ event_id: string }>(`SELECT event_id FROM request_usage WHERE account_id = 'acct-old'`);
    expect(left.map((r) => r.event_id)).toEqual(['new-1']);
    expect(await store.dropExpired(Date.now(), 30)).toEqual([]);
    await db.close();
  });
});
