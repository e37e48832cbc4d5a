/** KafkaAdmin's offset look-ups against the real broker: watermarks, offsets by time, group deletion. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireStack, testName } from '@access/testing';
import { EventProducer, KafkaAdmin, RawBatchConsumer, createKafka, sleep, type Kafka } from './kafka';

describe('KafkaAdmin offsets', () => {
  let kafka: Kafka;
  let admin: KafkaAdmin;
  let producer: EventProducer;
  const topic = testName('offsets');

  beforeAll(async () => {
    const stack = await requireStack(['kafka']);
    kafka = createKafka({ brokers: stack.kafkaBrokers, clientId: 'kafka-admin-int-test' });
    admin = new KafkaAdmin(kafka);
    await admin.connect();
    await admin.ensureTopics([{ name: topic, partitions: 1, compacted: false }]);
    producer = new EventProducer(kafka, { lingerMs: 1 });
    await producer.connect();
  });

  afterAll(async () => {
    await producer?.disconnect();
    await admin?.deleteTopics([topic]).catch(() => undefined);
    await admin?.disconnect();
  });

  it('finds the first offset at or after a time, the high watermark when nothing is that recent, and the low watermark', async () => {
    await producer.sendMany([0, 1].map((i) => ({ topic, key: 'k', value: `old-${i}` })));
    await sleep(50);
    const between = Date.now();
    await sleep(50);
    await producer.sendMany([2, 3, 4].map((i) => ({ topic, key: 'k', value: `new-${i}` })));
    expect(await admin.offsetsAtTime(topic, between)).toEqual(new Map([[0, 2n]]));
    expect(await admin.offsetsAtTime(topic, Date.now() + 60_000)).toEqual(new Map([[0, 5n]]));
    expect(await admin.lowWatermarks(topic)).toEqual(new Map([[0, 0n]]));
    expect(await admin.highWatermarks(topic)).toEqual(new Map([[0, 5n]]));
  });

  it('deletes a consumer group that has left', async () => {
    const groupId = testName('g');
    const consumer = new RawBatchConsumer(kafka, { groupId, topics: [topic], fromBeginning: true, commitOffsets: true });
    let seen = 0;
    await consumer.start(async (messages) => void (seen += messages.length));
    while (seen === 0) await sleep(50);
    await consumer.stop();
    expect((await admin.committedOffsets(groupId, topic)).get(0)).toBeGreaterThan(0n);
    await admin.deleteGroups([groupId]);
    expect((await admin.committedOffsets(groupId, topic)).get(0)).toBe(-1n);
  });
});
