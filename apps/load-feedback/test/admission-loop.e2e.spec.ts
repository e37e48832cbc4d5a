/**
 * The end-to-end, through Kafka: admission and load-feedback as child processes on topics of
 * their own (admission reads the limits topic load-feedback writes, and load-feedback reads the
 * decisions admission writes). A load spike published to the load topic changes admission's
 * decisions within 2 seconds, and the decision events record the multiplier that applied.
 *
 * load-feedback runs with the shipped configuration (a 5 s clock): an overloaded sample brings the next
 * tick forward (at most one tick per second), so the first cut reaches admission within about a second;
 * further cuts follow one per second until batch is shed (see docs/load-feedback.md).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS, SOURCES, makeEvent, newEventId, type AccessEvent } from '@access/contracts';
import { TokenStore } from '@access/platform-auth';
import { encodeEvent, sleep } from '@access/platform-kafka';
import { createDataSource, type DataSource } from '@access/platform-postgres';
import { requireStack, testName, type Stack } from '@access/testing';
import { createFeedbackRun, ensureTopics, eventually, freePort, startService, waitReady, watchTopic, type FeedbackRun, type Service, type TopicWatch } from './harness';

type Decided = AccessEvent<typeof EVENTS.admissionDecided>;
type Adjusted = AccessEvent<typeof EVENTS.limitsAdjusted>;

const account = 'acct-loop-e2e';

describe('load spike → load-feedback → admission', () => {
  let stack: Stack;
  let run: FeedbackRun;
  let db: DataSource;
  let token: string;
  let decisions: TopicWatch;
  let limits: TopicWatch;
  const topics = { ledger: testName('ledger'), balances: testName('bal') };
  const services: Service[] = [];
  let admission: Service;
  let fleetTimer: NodeJS.Timeout | undefined;
  let utilization = 0.8;

  beforeAll(async () => {
    stack = await requireStack();
    run = await createFeedbackRun(stack);
    await ensureTopics(run.admin, [
      { name: topics.ledger, partitions: 8, compacted: false },
      { name: topics.balances, partitions: 8, compacted: true },
    ]);
    db = createDataSource({ url: stack.databaseUrl });
    await db.initialize();
    token = (await new TokenStore(db).create(testName('loop-e2e'), ['admission:decide'])).token;
    const now = new Date().toISOString();
    const balance = makeEvent(EVENTS.balanceChanged, {
      id: newEventId(), source: SOURCES.creditLedger, time: now,
      data: { accountId: account, version: 1, balanceCredits: 1_000_000_000, heldCredits: 0, availableCredits: 1_000_000_000, plan: 'enterprise', occurredAt: now },
    });
    await run.producer.send(encodeEvent(balance, topics.balances));
    decisions = await watchTopic(run.kafka, run.topics.admissions);
    limits = await watchTopic(run.kafka, run.topics.limits);

    const admissionPort = await freePort();
    admission = startService('apps/admission/src/main.ts', {
      KAFKA_BROKERS: stack.kafkaBrokers.join(','),
      DATABASE_URL: stack.databaseUrl,
      ADMISSION_PORT: String(admissionPort),
      ADMISSION_TOPIC_ADMISSIONS: run.topics.admissions,
      ADMISSION_TOPIC_USAGE: run.topics.usage,
      ADMISSION_TOPIC_LEDGER: topics.ledger,
      ADMISSION_TOPIC_BALANCES: topics.balances,
      ADMISSION_TOPIC_LIMITS: run.topics.limits,
      ADMISSION_TOPIC_REPUTATION: run.topics.reputation,
      ADMISSION_TOPIC_DEADLETTER: run.topics.deadletter,
      TOKEN_REFRESH_MS: '500',
    }, admissionPort);
    const feedbackPort = await freePort();
    const feedback = startService('apps/load-feedback/src/main.ts', { ...run.env(feedbackPort) }, feedbackPort);
    services.push(admission, feedback);
    await Promise.all([waitReady(admission), waitReady(feedback)]);
    // A fleet reports every 200 ms; the test moves its utilization.
    const report = () => void run.sample('codex-1', utilization, 100_000).catch(() => undefined);
    report();
    fleetTimer = setInterval(report, 200);
  }, 120_000);

  afterAll(async () => {
    clearInterval(fleetTimer);
    for (const s of services) await s.kill();
    await decisions?.stop();
    await limits?.stop();
    await run?.admin.deleteTopics(Object.values(topics)).catch(() => undefined);
    await run?.close();
    await db?.destroy();
  });

  let n = 0;
  async function decide(priority: 'critical' | 'standard' | 'batch') {
    const requestId = `req-loop-${process.pid}-${++n}`;
    const r = await fetch(`http://127.0.0.1:${admission.port}/v1/admissions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        requestId, accountId: account, userId: `u-${n % 50}`, model: 'codex-1', endpoint: 'code.generate', priority,
        estimate: { meters: { input_tokens: 1_000, output_tokens: 200 }, dimensions: {} },
      }),
    });
    return { requestId, status: r.status, body: (await r.json()) as Record<string, unknown> };
  }

  const eventFor = (requestId: string) =>
    eventually(() => decisions.events.find((e): e is Decided => e.type === EVENTS.admissionDecided && e.data.requestId === requestId), 5_000, `decision ${requestId}`);

  it('changes admission\'s decisions within 2 seconds of a spike, and the decision events record the multiplier', async () => {
    // Before: the fleet sits at target, nothing is adjusted, batch is admitted at multiplier 1.
    const calm = await eventually(async () => {
      const d = await decide('batch');
      return d.status === 200 ? d : undefined;
    }, 20_000, 'admission to admit (balance read)');
    expect((await eventFor(calm.requestId)).data.multipliers.load).toBe(1);

    // The spike: the fleet is saturated from now on.
    utilization = 1;
    await run.sample('codex-1', 1, 100_000);
    const spikeAtMs = Date.now();

    // Admission's decisions change: batch is first admitted under a cut multiplier, then shed.
    let firstChangeMs: number | null = null;
    let shed: { requestId: string; atMs: number } | null = null;
    const cutRequests: string[] = [];
    while (Date.now() - spikeAtMs < 15_000 && shed === null) {
      const d = await decide('batch');
      const atMs = Date.now();
      if (d.status === 429 && d.body.reason === 'load_shed') {
        shed = { requestId: d.requestId, atMs };
        firstChangeMs ??= atMs - spikeAtMs;
        break;
      }
      expect(d.status).toBe(200);
      const e = await eventFor(d.requestId);
      if (e.data.multipliers.load < 1) {
        firstChangeMs ??= atMs - spikeAtMs;
        cutRequests.push(d.requestId);
      }
      await sleep(20);
    }
    expect(firstChangeMs).not.toBeNull();
    expect(firstChangeMs!).toBeLessThan(2_000);
    expect(shed).not.toBeNull();
    // Four cuts of at most 0.25, one per second at the fastest.
    expect(shed!.atMs - spikeAtMs).toBeLessThan(8_000);

    // The decision events record the multiplier that applied: each is one load-feedback published
    // for (codex-1, enterprise, batch), and a shed decision records 0.
    const published = new Set(
      limits.events
        .filter((e): e is Adjusted => e.type === EVENTS.limitsAdjusted && e.subject === 'codex-1|enterprise|batch')
        .map((e) => e.data.multiplier),
    );
    expect(published.has(0)).toBe(true);
    for (const requestId of cutRequests) expect(published.has((await eventFor(requestId)).data.multipliers.load)).toBe(true);
    const shedEvent = await eventFor(shed!.requestId);
    expect(shedEvent.data).toMatchObject({ decision: 'rejected', reason: 'load_shed', decidedBy: 'load_shedding', multipliers: { load: 0 } });

    // Critical keeps its reserve: still admitted at multiplier 1 while batch is shed.
    const critical = await decide('critical');
    expect(critical.status).toBe(200);
    expect((await eventFor(critical.requestId)).data.multipliers.load).toBe(1);
  }, 60_000);
});
