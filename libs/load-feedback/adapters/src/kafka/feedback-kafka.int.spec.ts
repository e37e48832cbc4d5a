/**
 * The Kafka edge of load-feedback against the real broker, with topics of its own: publishing limit
 * changes and reputation updates as contract events, and reading them back from the compacted topics
 * at start (the newest per key, poison skipped, an empty topic at once).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS, parseEventJson } from '@access/contracts';
import type { LimitChange } from '@access/load-feedback-domain';
import { EventProducer, EventPublisher, KafkaAdmin, RawBatchConsumer, createKafka, sleep, type Kafka } from '@access/platform-kafka';
import { requireStack, testName } from '@access/testing';
import { FeedbackPublisher, restoredMultipliers, restoredReputation } from './feedback-events';
import { readCompactedTopic } from './compacted-reader';

describe('load-feedback on Kafka', () => {
  let kafka: Kafka;
  let admin: KafkaAdmin;
  let producer: EventProducer;
  const topics = { limits: testName('limits'), reputation: testName('rep'), empty: testName('empty') };

  beforeAll(async () => {
    const stack = await requireStack(['kafka']);
    kafka = createKafka({ brokers: stack.kafkaBrokers, clientId: 'load-feedback-int-test' });
    admin = new KafkaAdmin(kafka);
    await admin.connect();
    const specs = [
      { name: topics.limits, partitions: 1, compacted: true },
      { name: topics.reputation, partitions: 4, compacted: true },
      { name: topics.empty, partitions: 1, compacted: true },
    ];
    // Right after a create the broker may still answer "does not host this topic-partition" to
    // kafkajs's wait for leaders (busy machine); ensureTopics creates only what is missing, so retry.
    for (let attempt = 1; ; attempt++) {
      try {
        await admin.ensureTopics(specs);
        break;
      } catch (error) {
        if (attempt >= 5) throw error;
        await sleep(200 * attempt);
      }
    }
    producer = new EventProducer(kafka, { lingerMs: 1 });
    await producer.connect();
  });

  afterAll(async () => {
    await producer?.disconnect();
    await admin?.deleteTopics(Object.values(topics)).catch(() => undefined);
    await admin?.disconnect();
  });

  const change = (plan: string, multiplier: number): LimitChange => ({
    model: 'codex-1',
    plan,
    priority: 'batch',
    multiplier,
    reason: 'overload',
    inputs: { utilization: 0.95, capacityCreditsPerSecond: 8000 },
  });

  it('publishes limits.adjusted keyed model|plan|priority, and reads back the newest multiplier per class', async () => {
    const publisher = new FeedbackPublisher(new EventPublisher(producer), topics);
    await publisher.publishLimits([change('free', 0.75), change('pro', 0.8)]);
    await publisher.publishLimits([change('free', 0.5)]);
    await producer.send({ topic: topics.limits, key: 'codex-1|plus|batch', value: 'not json' });

    // The raw messages are contract events with the contract's key.
    const keys: string[] = [];
    const consumer = new RawBatchConsumer(kafka, { groupId: testName('g'), topics: [topics.limits], fromBeginning: true, commitOffsets: false });
    await consumer.start(async (messages) => {
      for (const m of messages) {
        const parsed = m.value ? parseEventJson(m.value) : null;
        if (parsed?.ok && parsed.event.type === EVENTS.limitsAdjusted) {
          expect(parsed.event.subject).toBe(m.key);
          keys.push(m.key ?? '');
        }
      }
    });
    for (let i = 0; i < 100 && keys.length < 3; i++) await sleep(50);
    await consumer.stop();
    expect(keys).toEqual(['codex-1|free|batch', 'codex-1|pro|batch', 'codex-1|free|batch']);

    const poison: string[] = [];
    const latest = await readCompactedTopic({ kafka, admin, topic: topics.limits, groupId: testName('restore'), onPoison: (_m, reason) => poison.push(reason) });
    expect(restoredMultipliers(latest.values()).sort((a, b) => a.plan.localeCompare(b.plan))).toEqual([
      { model: 'codex-1', plan: 'free', priority: 'batch', multiplier: 0.5 },
      { model: 'codex-1', plan: 'pro', priority: 'batch', multiplier: 0.8 },
    ]);
    expect(poison).toHaveLength(1);
  });

  it('reads back the newest factor per user across partitions, forgetting users back at 1', async () => {
    const publisher = new FeedbackPublisher(new EventPublisher(producer), topics);
    const update = (userId: string, factor: number) => ({ accountId: 'acct-1', userId, factor, signals: { requests: 100 } });
    await publisher.publishReputation([update('u-1', 0.6), update('u-2', 1.2), update('u-3', 0.9)]);
    await publisher.publishReputation([update('u-1', 0.7), update('u-3', 1)]);
    const latest = await readCompactedTopic({ kafka, admin, topic: topics.reputation, groupId: testName('restore') });
    const users = restoredReputation(latest.values());
    expect([...users.entries()].map(([k, v]) => [k, v.factor]).sort()).toEqual([
      ['acct-1|u-1', 0.7],
      ['acct-1|u-2', 1.2],
    ]);
  });

  it('returns at once for an empty topic', async () => {
    const t0 = Date.now();
    expect((await readCompactedTopic({ kafka, admin, topic: topics.empty, groupId: testName('restore') })).size).toBe(0);
    expect(Date.now() - t0).toBeLessThan(5_000);
  });
});
