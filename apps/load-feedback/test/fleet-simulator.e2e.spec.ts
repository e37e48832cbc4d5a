/**
 * The fleet simulator as a process on topics of its own: admitted decisions load its fleet, and it
 * publishes `load.sampled` every tick with the utilization they cause (rejections do not count).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS, SOURCES, goldenEvent, makeEvent, newEventId, type AccessEvent } from '@access/contracts';
import { encodeEvent } from '@access/platform-kafka';
import { requireStack, type Stack } from '@access/testing';
import { createFeedbackRun, eventually, startService, watchTopic, type FeedbackRun, type Service, type TopicWatch } from './harness';

type Sampled = AccessEvent<typeof EVENTS.loadSampled>;

describe('fleet simulator', () => {
  let stack: Stack;
  let run: FeedbackRun;
  let samples: TopicWatch;
  let simulator: Service;

  beforeAll(async () => {
    stack = await requireStack(['kafka']);
    run = await createFeedbackRun(stack);
    samples = await watchTopic(run.kafka, run.topics.load);
    simulator = startService('apps/fleet-simulator/src/main.ts', {
      KAFKA_BROKERS: stack.kafkaBrokers.join(','),
      FLEET_MODELS: 'codex-1:1000',
      FLEET_TICK_MS: '200',
      FLEET_TOPIC_ADMISSIONS: run.topics.admissions,
      FLEET_TOPIC_USAGE: run.topics.usage,
      FLEET_TOPIC_LOAD: run.topics.load,
      FLEET_TOPIC_DEADLETTER: run.topics.deadletter,
    }, 0);
  });

  afterAll(async () => {
    await simulator?.kill();
    await samples?.stop();
    await run?.close();
  });

  const sampled = () => samples.events.filter((e): e is Sampled => e.type === EVENTS.loadSampled);

  it('publishes a sample per tick, and admitted demand raises the utilization it reports', async () => {
    const idle = await eventually(() => sampled()[0], 30_000, 'a first sample');
    expect(idle.data).toMatchObject({ model: 'codex-1', region: 'local-1', capacityCreditsPerSecond: 1_000, utilization: 0 });
    expect(idle.subject).toBe('codex-1');

    // 600 credits admitted within one 200 ms tick: 3000 credits/s against a capacity of 1000 saturates.
    const golden = goldenEvent(EVENTS.admissionDecided).data;
    const publishAll = async () => {
      const now = new Date().toISOString();
      const events = Array.from({ length: 6 }, (_, i) =>
        makeEvent(EVENTS.admissionDecided, {
          id: newEventId(), source: SOURCES.admission, time: now,
          data: { ...golden, admissionId: newEventId(), requestId: `r-${Date.now()}-${i}`, model: 'codex-1', decidedAt: now, estimatedCredits: 100, fundedBy: [{ source: 'credits', credits: 100 }], heldCredits: 100 },
        }),
      );
      await run.producer.sendMany(events.map((e) => encodeEvent(e, run.topics.admissions)));
    };
    const loaded = await eventually(async () => {
      await publishAll();
      return sampled().find((e) => e.data.utilization > 0.5);
    }, 20_000, 'a sample showing the admitted demand');
    expect(loaded.data.utilization).toBeLessThanOrEqual(1);
    expect(Date.parse(loaded.time)).toBeGreaterThanOrEqual(Date.parse(idle.time));
    expect(await simulator.kill('SIGTERM')).toBe(0);
  });
});
