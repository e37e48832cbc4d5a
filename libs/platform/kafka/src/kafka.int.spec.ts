import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS, SOURCES, makeEvent, newEventId, parseEvent, type AnyAccessEvent } from '@access/contracts';
import { requireStack, testName } from '@access/testing';
import { EventConsumer, EventPublisher, NonRetriableError, RetriableError, childTraceparent, type ConsumedEvent } from './index';
import { EventProducer, KafkaAdmin, RawBatchConsumer, createKafka, type Kafka } from './kafka';

function completion(accountId: string, requestId: string) {
  return makeEvent(EVENTS.usageRequestCompleted, {
    id: newEventId(),
    source: SOURCES.admission,
    time: new Date().toISOString(),
    data: {
      admissionId: newEventId(), requestId, accountId, userId: 'u-1', model: 'sora-2', endpoint: 'video.generate',
      status: 'succeeded', meters: { video_seconds: 8 }, dimensions: { resolution: '1080p' }, gpuSeconds: 1.5,
      durationMs: 1200, startedAt: '2026-11-25T10:00:00.000Z', endedAt: '2026-11-25T10:00:01.200Z',
    },
  });
}

async function until<T>(fn: () => T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('Kafka platform against the real broker', () => {
  let kafka: Kafka;
  let admin: KafkaAdmin;
  let producer: EventProducer;
  const topic = testName('t');
  const deadLetterTopic = testName('dlq');

  beforeAll(async () => {
    const stack = await requireStack(['kafka']);
    kafka = createKafka({ brokers: stack.kafkaBrokers, clientId: 'kafka-int-test' });
    admin = new KafkaAdmin(kafka);
    await admin.connect();
    await admin.ensureTopics([
      { name: topic, partitions: 2, compacted: false },
      { name: deadLetterTopic, partitions: 1, compacted: false },
    ]);
    producer = new EventProducer(kafka, { lingerMs: 5 });
    await producer.connect();
  });

  afterAll(async () => {
    await producer?.disconnect();
    await admin?.deleteTopics([topic, deadLetterTopic]).catch(() => undefined);
    await admin?.disconnect();
  });

  it('creates compacted topics with cleanup.policy=compact', async () => {
    const name = testName('compact');
    await admin.ensureTopics([{ name, partitions: 1, compacted: true }]);
    expect((await admin.topicConfig(name))['cleanup.policy']).toBe('compact');
    expect(await admin.ensureTopics([{ name, partitions: 1, compacted: true }])).toEqual([]); // idempotent
    await admin.deleteTopics([name]);
  });

  it('publishes CloudEvents, consumes them parsed with traceparent, and dead-letters poison with the reason', async () => {
    const publisher = new EventPublisher(producer);
    const traceparent = childTraceparent(undefined);
    const good = [completion('acct-1', 'req-1'), completion('acct-2', 'req-2'), completion('acct-1', 'req-3')];
    await publisher.publish(topic, good[0]!, traceparent);
    await producer.send({ topic, key: 'acct-1', value: '{not json' });
    await producer.send({ topic, key: 'acct-1', value: JSON.stringify({ ...good[1], type: 'io.access.nope.v1' }) });
    await publisher.publishMany(good.slice(1).map((event) => ({ topic, event })));
    // A message the handler refuses for good (NonRetriableError) is dead-lettered too, alone.
    const refused = completion('acct-3', 'req-refuse');
    await publisher.publish(topic, refused);

    const received: ConsumedEvent[] = [];
    let transientFailures = 0;
    const consumer = new EventConsumer(kafka, producer, {
      groupId: testName('g'), topics: [topic], fromBeginning: true, consumerName: 'kafka-int-test',
      source: SOURCES.usageIngest, deadLetterTopic, checkTopic: false,
    });
    await consumer.start(async (events) => {
      if (transientFailures === 0) {
        transientFailures += 1;
        throw new RetriableError('store briefly unavailable'); // retried, never dead-lettered
      }
      for (const e of events) {
        if (e.event.type === EVENTS.usageRequestCompleted && e.event.data.requestId === 'req-refuse') {
          throw new NonRetriableError('account is closed');
        }
      }
      received.push(...events);
    });

    const dead: AnyAccessEvent[] = [];
    const dlqReader = new RawBatchConsumer(kafka, { groupId: testName('dlq'), topics: [deadLetterTopic], fromBeginning: true });
    await dlqReader.start(async (messages) => {
      for (const m of messages) {
        const parsed = parseEvent(JSON.parse(m.value!.toString()));
        if (parsed.ok) dead.push(parsed.event);
      }
    });
    await until(() => (received.length >= 3 && dead.length >= 3 ? true : undefined));
    await consumer.stop();
    await dlqReader.stop();

    expect(transientFailures).toBe(1);
    expect(received.map((r) => (r.event.type === EVENTS.usageRequestCompleted ? r.event.data.requestId : '')).sort()).toEqual(['req-1', 'req-2', 'req-3']);
    expect(received.find((r) => r.traceparent !== undefined)?.traceparent?.slice(0, 35)).toBe(traceparent.slice(0, 35));
    const reasons = dead.map((d) => (d.type === EVENTS.deadletterRecorded ? d.data.error : ''));
    expect(reasons.some((r) => r.startsWith('not UTF-8 JSON'))).toBe(true);
    expect(reasons.some((r) => r.includes('io.access.nope.v1'))).toBe(true);
    expect(reasons.some((r) => r.includes('account is closed'))).toBe(true);
    for (const d of dead) {
      expect(d.type).toBe(EVENTS.deadletterRecorded);
      if (d.type === EVENTS.deadletterRecorded) {
        expect(d.data.topic).toBe(topic);
        expect(d.data.consumer).toBe('kafka-int-test');
        expect(Buffer.from(d.data.valueBase64, 'base64').length).toBeGreaterThan(0);
      }
    }
  });

  it('commits only after the handler succeeds: a consumer stopped mid-retry leaves the batch for the next one', async () => {
    const t = testName('commit');
    await admin.ensureTopics([{ name: t, partitions: 1, compacted: false }]);
    const publisher = new EventPublisher(producer);
    await publisher.publish(t, completion('acct-9', 'req-9'));
    const groupId = testName('g');
    const options = { groupId, topics: [t], fromBeginning: true, consumerName: 'c', source: SOURCES.usageIngest, deadLetterTopic, retryBackoffMsMax: 200 };

    let attempts = 0;
    const failing = new EventConsumer(kafka, producer, options);
    await failing.start(async () => {
      attempts += 1;
      throw new RetriableError('down');
    });
    await until(() => (attempts >= 2 ? true : undefined));
    await failing.stop();

    const seen: string[] = [];
    const healthy = new EventConsumer(kafka, producer, options);
    await healthy.start(async (events) => {
      for (const e of events) if (e.event.type === EVENTS.usageRequestCompleted) seen.push(e.event.data.requestId);
    });
    await until(() => (seen.length > 0 ? true : undefined));
    await healthy.stop();
    expect(seen).toEqual(['req-9']);
    const committed = await admin.committedOffsets(groupId, t);
    expect(committed.get(0)).toBe(1n);
    await admin.deleteTopics([t]);
  });
  it('starts again by itself after kafkajs stopped it for good, and the batch it failed is handled then', async () => {
    const t = testName('crash');
    await admin.ensureTopics([{ name: t, partitions: 1, compacted: false }]);
    // A producer of its own: the shared one still lists the topics earlier tests deleted, and kafkajs asks for their
    // metadata on every refresh.
    const own = new EventProducer(kafka, { lingerMs: 1 });
    await own.connect();
    await own.send({ topic: t, key: 'k', value: 'one' });
    await own.disconnect();
    const groupId = testName('g');
    const retries: unknown[] = [];
    const consumer = new RawBatchConsumer(kafka, { groupId, topics: [t], fromBeginning: true, retryBackoffMsMax: 1_000, onRetry: (error) => retries.push(error) });
    const handled: string[] = [];
    let calls = 0;
    await consumer.start(async (messages) => {
      calls += 1;
      // Not retriable: kafkajs crashes the consumer and does not restart it (as when the group drops the member).
      if (calls === 1) throw new Error('a bug, or the member dropped from its group');
      for (const m of messages) handled.push(m.value?.toString() ?? '');
    });
    await until(() => (handled.length > 0 ? true : undefined), 30_000);
    expect(handled).toEqual(['one']);
    expect(consumer.restartsAfterCrash).toBe(0); // reset once running again
    expect(consumer.isRunning).toBe(true);
    expect(retries.map((e) => (e as Error).message)).toContain('a bug, or the member dropped from its group');
    await consumer.stop();
    expect((await admin.committedOffsets(groupId, t)).get(0)).toBe(1n);
    await admin.deleteTopics([t]);
  });

  it('seeks where onAssignment says, and context.seek refetches a partition from the given offset', async () => {
    const t = testName('seek');
    await admin.ensureTopics([{ name: t, partitions: 1, compacted: false }]);
    // Its own producer: the shared one still knows the topic the previous test deleted, and kafkajs fails a
    // metadata refresh that includes it.
    const own = new EventProducer(kafka, { lingerMs: 2 });
    await own.connect();
    await new EventPublisher(own).publishMany(Array.from({ length: 6 }, (_, i) => ({ topic: t, event: completion('acct-s', `req-${i}`) })));
    await own.disconnect();
    const seen: string[] = [];
    let soughtBack = false;
    const consumer = new RawBatchConsumer(kafka, {
      groupId: testName('g'), topics: [t], fromBeginning: true,
      // The position is kept elsewhere (as the ledger keeps it in Postgres): start at offset 3.
      onAssignment: async (partitions) => partitions.map((p) => ({ ...p, offset: '3' })),
    });
    await consumer.start(async (messages, context) => {
      if (BigInt(messages[0]!.offset) < 3n) return; // fetched before the seek landed
      seen.push(...messages.map((m) => m.offset));
      if (!soughtBack && seen.includes('5')) {
        soughtBack = true;
        context.seek('4'); // this batch is not acknowledged; 4 and 5 come again
      }
    });
    await until(() => (seen.filter((o) => o === '5').length >= 2 ? true : undefined));
    await consumer.stop();
    expect(seen[0]).toBe('3');
    expect(seen.filter((o) => o === '4')).toHaveLength(2);
    await admin.deleteTopics([t]);
  });
});
