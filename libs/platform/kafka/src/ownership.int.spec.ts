/**
 * The two Kafka mechanisms admission replicas rest on, against the real broker: a partition group whose members see
 * each other's data and split the partitions (and hand them over when one leaves), and a transactional producer that
 * is fenced when another writer initializes its id, so a committed-only reader never sees the fenced writer's messages.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireStack, testName } from '@access/testing';
import { KafkaAdmin, RawBatchConsumer, createKafka, type Kafka } from './kafka';
import { PartitionGroup } from './partition-group';
import { FencedError, TransactionalProducer, isFencingError } from './transactional';

async function until(check: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('partition ownership on the real broker', () => {
  let kafka: Kafka;
  let admin: KafkaAdmin;
  const topic = testName('own');

  beforeAll(async () => {
    const stack = await requireStack(['kafka']);
    kafka = createKafka({ brokers: stack.kafkaBrokers, clientId: 'ownership-int-test' });
    admin = new KafkaAdmin(kafka);
    await admin.connect();
    await admin.ensureTopics([{ name: topic, partitions: 4, compacted: false }]);
  });

  afterAll(async () => {
    await admin.deleteTopics([topic]).catch(() => undefined);
    await admin.disconnect();
  });

  it('members split the partitions, read each other from the group, and a leaving member hands its share over', async () => {
    const groupId = testName('own-group');
    const owned = new Map<string, readonly number[]>();
    const member = (name: string) =>
      new PartitionGroup(kafka, {
        groupId,
        topic,
        memberData: JSON.stringify({ url: `http://${name}` }),
        sessionTimeoutMs: 6_000,
        heartbeatIntervalMs: 200,
        onAssigned: (partitions) => owned.set(name, partitions),
      });
    const a = member('a');
    const b = member('b');
    await a.start();
    await until(() => (owned.get('a') ?? []).length === 4);
    await b.start();
    await until(() => (owned.get('a') ?? []).length === 2 && (owned.get('b') ?? []).length === 2);
    expect([...(owned.get('a') ?? []), ...(owned.get('b') ?? [])].sort()).toEqual([0, 1, 2, 3]);

    await until(async () => (await a.describe()).state === 'Stable');
    const view = await a.describe();
    const byUrl = Object.fromEntries(view.members.map((m) => [JSON.parse(m.data).url as string, [...m.partitions].sort()]));
    expect(byUrl).toEqual({ 'http://a': [...(owned.get('a') ?? [])].sort(), 'http://b': [...(owned.get('b') ?? [])].sort() });

    const kept = owned.get('a');
    await b.stop();
    await until(() => (owned.get('a') ?? []).length === 4);
    // Sticky: what a owned before, it still owns.
    for (const p of kept ?? []) expect(owned.get('a')).toContain(p);
    await a.stop();
  }, 120_000);

  it('a second writer with the same transactional id fences the first: its later sends fail and are never read', async () => {
    const transactionalId = testName('txn');
    const first = new TransactionalProducer(kafka, transactionalId);
    await first.connect();
    await first.send({ topic, key: 'k', value: 'before', partition: 0 });
    const second = new TransactionalProducer(kafka, transactionalId);
    await second.connect();
    const late = await first.send({ topic, key: 'k', value: 'zombie', partition: 0 }).then(
      () => null,
      (error: unknown) => error,
    );
    expect(late).toBeInstanceOf(FencedError);
    expect(isFencingError(late)).toBe(true);
    expect(first.isFenced).toBe(true);
    await second.send({ topic, key: 'k', value: 'after', partition: 0 });

    const values: string[] = [];
    let position = 0n;
    const end = (await admin.highWatermarks(topic)).get(0) ?? 0n;
    const reader = new RawBatchConsumer(kafka, {
      groupId: testName('txn-reader'),
      topics: [topic],
      fromBeginning: true,
      commitOffsets: false,
      onPosition: (_t, partition, next) => {
        if (partition === 0 && next > position) position = next;
      },
    });
    await reader.start(async (messages) => {
      for (const m of messages) if (m.partition === 0) values.push(m.value?.toString('utf8') ?? '');
    });
    // The position reaches the high watermark although the last record (a commit marker) is no message.
    await until(() => position >= end);
    await reader.stop();
    expect(values).toEqual(['before', 'after']);
    await first.disconnect();
    await second.disconnect();
  }, 120_000);
});
