/**
 * load-feedback as a process, on topics of its own: it resumes from the multipliers already on
 * access.limits.v1, answers an overloaded fleet by cutting batch first (publishing only changes, with
 * reason and inputs, which GET /v1/limits shows), dead-letters poison, exits cleanly on SIGTERM, and a
 * successor resumes from what its predecessor published.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS, makeEvent, newEventId, SOURCES, type AccessEvent } from '@access/contracts';
import { TokenStore } from '@access/platform-auth';
import { encodeEvent, sleep } from '@access/platform-kafka';
import { createDataSource, type DataSource } from '@access/platform-postgres';
import { requireStack, testName, type Stack } from '@access/testing';
import type { LimitsView } from '@access/load-feedback-application';
import { createFeedbackRun, eventually, multiplierGauges, freePort, startService, waitReady, watchTopic, type FeedbackRun, type Service, type TopicWatch } from './harness';

type LimitsEvent = AccessEvent<typeof EVENTS.limitsAdjusted>;

describe('load-feedback service', () => {
  let stack: Stack;
  let run: FeedbackRun;
  let limits: TopicWatch;
  let deadletters: TopicWatch;
  const services: Service[] = [];

  let db: DataSource;
  let token: string;

  beforeAll(async () => {
    stack = await requireStack();
    run = await createFeedbackRun(stack);
    db = createDataSource({ url: stack.databaseUrl });
    await db.initialize();
    // Before any service starts: services load the token set at boot, then every TOKEN_REFRESH_MS.
    token = (await new TokenStore(db).create(testName('limits-reader'), ['ledger:read'])).token;
    // What a predecessor published: free batch is held at 0.4.
    const now = new Date().toISOString();
    const previous = makeEvent(EVENTS.limitsAdjusted, {
      id: newEventId(), source: SOURCES.loadFeedback, time: now,
      data: { model: 'codex-1', plan: 'free', priority: 'batch', multiplier: 0.4, reason: 'overload', inputs: {} },
    });
    await run.producer.send(encodeEvent(previous, run.topics.limits));
    limits = await watchTopic(run.kafka, run.topics.limits);
    deadletters = await watchTopic(run.kafka, run.topics.deadletter);
  });

  afterAll(async () => {
    for (const s of services) await s.kill();
    await limits?.stop();
    await deadletters?.stop();
    await run?.close();
    await db?.destroy();
  });

  async function start(): Promise<Service> {
    const port = await freePort();
    const s = startService('apps/load-feedback/src/main.ts', { ...run.env(port), LOAD_FEEDBACK_TICK_INTERVAL_MS: '300' }, port);
    services.push(s);
    return s;
  }

  const published = () => limits.events.filter((e): e is LimitsEvent => e.type === EVENTS.limitsAdjusted);

  it('resumes from the published multipliers, cuts batch first under overload, and dead-letters poison', async () => {
    const service = await start();
    await waitReady(service);
    const gauges = await multiplierGauges(service.port);
    expect(gauges.get('codex-1|free|batch')).toBe(0.4);
    expect(gauges.get('codex-1|pro|batch')).toBe(1);

    const before = published().length;
    await run.sample('codex-1', 1);
    const cuts = await eventually(() => {
      const news = published().slice(before);
      return news.length > 0 ? news : undefined;
    }, 10_000, 'limits.adjusted after an overload sample');
    for (const e of cuts) {
      expect(e.data.model).toBe('codex-1');
      expect(e.data.reason).toBe('overload');
      expect(e.subject).toBe(`codex-1|${e.data.plan}|${e.data.priority}`);
      expect(e.data.inputs).toMatchObject({ utilization: 1, capacityCreditsPerSecond: 1_000 });
    }
    // Batch first: the first tick's cuts touch batch, never critical.
    expect(cuts.some((e) => e.data.priority === 'batch')).toBe(true);
    expect(cuts.some((e) => e.data.priority === 'critical')).toBe(false);
    // The resumed 0.4 was the starting point of free batch's cut.
    const freeBatch = cuts.find((e) => e.data.plan === 'free' && e.data.priority === 'batch');
    if (freeBatch !== undefined) expect(freeBatch.data.inputs.previousMultiplier).toBe(0.4);

    // GET /v1/limits: the multipliers in force with the reason and inputs of their last change, and the sample.
    expect((await fetch(`http://127.0.0.1:${service.port}/v1/limits`)).status).toBe(401);
    const readView = async () => (await (await fetch(`http://127.0.0.1:${service.port}/v1/limits`, { headers: { authorization: `Bearer ${token}` } })).json()) as LimitsView;
    // While overloaded the controller keeps cutting, so the view is compared with the newest change published
    // for the same class, read after it (they agree once the watch has caught up).
    const { data: cut } = cuts.at(-1)!;
    const [view, shown] = await eventually(async () => {
      const v = await readView();
      const row = v.multipliers.find((m) => m.model === cut.model && m.plan === cut.plan && m.priority === cut.priority);
      const last = published().filter((e) => e.data.model === cut.model && e.data.plan === cut.plan && e.data.priority === cut.priority).at(-1);
      return row !== undefined && last !== undefined && row.multiplier === last.data.multiplier ? ([v, row] as const) : undefined;
    }, 10_000, 'GET /v1/limits to show the multiplier last published');
    expect(shown).toMatchObject({ reason: 'overload', inputs: { utilization: 1, capacityCreditsPerSecond: 1_000 } });
    expect(Date.parse(shown.changedAt!)).toBeGreaterThan(Date.now() - 60_000);
    expect(view.samples).toContainEqual(expect.objectContaining({ model: 'codex-1', region: 'test-1', utilization: 1 }));

    await run.producer.send({ topic: run.topics.load, key: 'codex-1', value: '{"not":"an event"}' });
    const dead = await eventually(() => deadletters.events.find((e) => e.type === EVENTS.deadletterRecorded), 10_000, 'a dead letter');
    expect(dead.data).toMatchObject({ topic: run.topics.load, consumer: 'load-feedback' });

    // Back at target (inside the hysteresis band): nothing moves, so nothing more is published.
    await run.sample('codex-1', 0.8);
    await sleep(1_000);
    const settled = published().length;
    await sleep(1_000);
    expect(published().length).toBe(settled);

    expect(await service.kill('SIGTERM')).toBe(0);
  });

  it('a successor starts from what its predecessor published last', async () => {
    const last = new Map(published().map((e) => [e.subject, e.data.multiplier]));
    expect(last.size).toBeGreaterThan(0);
    const service = await start();
    await waitReady(service);
    const gauges = await multiplierGauges(service.port);
    for (const [key, multiplier] of last) expect(gauges.get(key)).toBe(multiplier);
    await service.kill('SIGTERM');
  });
});
