/**
 * The ledger's consumer and outbox publisher against the real broker and Postgres (own topics, group and
 * schema): it starts from the positions stored in Postgres whatever Kafka's committed offsets say, it skips
 * what Postgres has applied, it dead-letters poison and rejected commands through the outbox and moves on,
 * and the publisher delivers each account's events in order with its final balance, stamped with the
 * publication time of the oldest completion it reflects.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CAUSED_AT_HEADER, CLOUDEVENTS_CONTENT_TYPE, EVENTS, SOURCES, makeEvent, newEventId, toKafkaMessage, type AnyAccessEvent } from '@access/contracts';
import { parsePriceBook } from '@access/catalog';
import { repoRoot } from '@access/platform-config';
import { EventProducer, KafkaAdmin, RawBatchConsumer, createKafka, type ConsumedMessage, type Kafka } from '@access/platform-kafka';
import { createDataSource, dropSchema, migratePostgres, type DataSource } from '@access/platform-postgres';
import { requireStack, testName } from '@access/testing';
import { LedgerConsumer } from './ledger-consumer';
import { LedgerStore } from './ledger-store';
import { ledgerMigrations } from './migrations';
import { parseOutboxLine } from './outbox-lines';
import { OutboxPublisher } from './outbox-publisher';

const book = parsePriceBook(readFileSync(join(repoRoot, 'config', 'price-book.yaml'), 'utf8'));
if (!book.ok) throw new Error('price book');
const priceBook = book.value;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

function decision(accountId: string, admissionId: string, heldCredits: number): AnyAccessEvent {
  const now = new Date().toISOString();
  return makeEvent(EVENTS.admissionDecided, {
    id: newEventId(), source: SOURCES.admission, time: now,
    data: {
      admissionId, requestId: `req-${admissionId.slice(-6)}`, accountId, userId: 'u', model: 'sora-2', endpoint: 'video.generate', priority: 'standard',
      plan: 'payg', decision: 'admitted', reason: null, decidedBy: 'credits', estimatedCredits: heldCredits, fundedBy: [{ source: 'credits', credits: heldCredits }],
      heldCredits, reservationExpiresAt: new Date(Date.now() + 3_600_000).toISOString(), limits: [], multipliers: { load: 1, reputation: 1 },
      priceBookVersion: priceBook.version, estimate: { meters: { video_seconds: 1 }, dimensions: { resolution: '720p' } }, retryAfterMs: null,
      availableCredits: null, decisionLatencyUs: 1, decidedAt: now,
    },
  });
}

/** A completion with no decision before it: the ledger settles its cost (50 credits) directly. */
function completion(accountId: string): AnyAccessEvent {
  const now = new Date().toISOString();
  return makeEvent(EVENTS.usageRequestCompleted, {
    id: newEventId(), source: '/fleet/test', time: now,
    data: {
      admissionId: newEventId(), requestId: `req-${newEventId().slice(-8)}`, accountId, userId: 'u', model: 'sora-2', endpoint: 'video.generate',
      status: 'succeeded', meters: { video_seconds: 5 }, dimensions: { resolution: '720p' }, gpuSeconds: 1, durationMs: 1_000, startedAt: now, endedAt: now,
    },
  });
}

describe('LedgerConsumer and OutboxPublisher on the real broker', () => {
  const schema = testName('ledger_kafka');
  const topics = { admissions: testName('adm'), usage: testName('usage'), ledger: testName('ledger'), balances: testName('bal'), deadletter: testName('dl') };
  const groupId = testName('group');
  let url: string;
  let kafka: Kafka;
  let admin: KafkaAdmin;
  let producer: EventProducer;
  let db: DataSource;
  let store: LedgerStore;
  let consumer: LedgerConsumer | undefined;
  const sought: string[] = [];
  let skipped = 0;

  beforeAll(async () => {
    const stack = await requireStack(['kafka', 'postgres']);
    url = stack.databaseUrl;
    await migratePostgres({ url, schema, migrations: ledgerMigrations });
    db = createDataSource({ url, schema, logFailedQueries: false });
    await db.initialize();
    store = new LedgerStore(db);
    kafka = createKafka({ brokers: stack.kafkaBrokers, clientId: 'ledger-kafka-int' });
    admin = new KafkaAdmin(kafka);
    await admin.connect();
    await admin.ensureTopics([
      { name: topics.admissions, partitions: 1, compacted: false },
      { name: topics.usage, partitions: 1, compacted: false },
      { name: topics.ledger, partitions: 2, compacted: false },
      { name: topics.balances, partitions: 2, compacted: true },
      { name: topics.deadletter, partitions: 1, compacted: false },
    ]);
    producer = new EventProducer(kafka, { lingerMs: 2 });
    await producer.connect();
    const now = new Date().toISOString();
    await store.execute([
      { accountId: 'acct-1', command: { type: 'openAccount', data: { plan: 'payg' }, metadata: { now } } },
      { accountId: 'acct-1', command: { type: 'grant', data: { grantId: 'g', credits: 1_000, source: 'purchase' }, metadata: { now } } },
    ]);
  });

  afterAll(async () => {
    await consumer?.stop().catch(() => undefined);
    await producer?.disconnect();
    await admin?.deleteTopics(Object.values(topics)).catch(() => undefined);
    await admin?.disconnect();
    await db?.destroy();
    await dropSchema(url, schema);
  });

  const stored = async (topic: string) => (await store.storedOffsets(groupId, topic)).get(0);
  const count = async (sql: string) => Number(((await db.query(sql)) as { n: string }[])[0]!.n);

  it('starts from the position stored in Postgres even when Kafka has committed past it', async () => {
    const admissions = Array.from({ length: 10 }, () => newEventId());
    await producer.sendMany(admissions.map((id) => ({ topic: topics.admissions, ...toKafkaMessage(decision('acct-1', id, 10)) })));
    // Kafka's committed offset for the group goes to the end (10)…
    const reader = new RawBatchConsumer(kafka, { groupId, topics: [topics.admissions], fromBeginning: true });
    let read = 0;
    await reader.start(async (messages) => void (read += messages.length));
    await until('the reader', async () => read >= 10);
    await reader.stop();
    expect((await admin.committedOffsets(groupId, topics.admissions)).get(0)).toBe(10n);
    // …while Postgres says only the first 4 were applied.
    await db.query('INSERT INTO consumer_offsets (group_id, topic, partition, next_offset) VALUES ($1, $2, 0, 4)', [groupId, topics.admissions]);

    consumer = new LedgerConsumer(kafka, store, {
      groupId, admissionsTopic: topics.admissions, usageTopic: topics.usage, priceBook, sessionTimeoutMs: 6_000,
      observer: { sought: (_t, _p, offset) => sought.push(offset), skipped: (_t, _p, n) => (skipped += n) },
    });
    await consumer.start();
    await until('the ledger to apply the admissions', async () => (await stored(topics.admissions)) === '10');
    expect(sought).toContain('4');
    const held = await db.query("SELECT data->>'admissionId' AS id FROM ledger_events WHERE type = 'credits_reserved' ORDER BY version");
    expect(held.map((r: { id: string }) => r.id)).toEqual(admissions.slice(4));
  });

  it('dead-letters poison and rejected commands through the outbox, and moves on', async () => {
    const good = newEventId();
    await producer.sendMany([
      { topic: topics.admissions, key: 'acct-1', value: 'not json', headers: { 'content-type': CLOUDEVENTS_CONTENT_TYPE } },
      { topic: topics.admissions, ...toKafkaMessage(decision('acct-unknown', newEventId(), 10)) },
      { topic: topics.admissions, ...toKafkaMessage(decision('acct-1', good, 10)) },
    ]);
    await until('the ledger to pass them', async () => (await stored(topics.admissions)) === '13');
    expect(await count(`SELECT count(*) AS n FROM ledger_events WHERE data->>'admissionId' = '${good}'`)).toBe(1);
    const rows: { messages: string }[] = await db.query('SELECT messages FROM outbox ORDER BY id');
    const letters = rows.flatMap((r) => r.messages.split('\n')).filter((line) => line.startsWith('deadletter\t'));
    expect(letters.map((line) => JSON.parse(line.split('\t')[2]!).data.error)).toEqual([
      expect.stringContaining('not UTF-8 JSON'),
      expect.stringContaining('LEDGER.REJECTED (account_not_open)'),
    ]);
  });

  it('publishes every event in stream order and the final balance, then empties the outbox', async () => {
    const publisher = new OutboxPublisher(db, producer, topics, { outboxBatchMax: 2, outboxIdleWaitMs: 20, outboxRetryWaitMsMax: 500 });
    await publisher.drain();
    expect(await count('SELECT count(*) AS n FROM outbox')).toBe(0);
    const ledger = await readAll(kafka, admin, topics.ledger);
    const versions = ledger.filter((m) => m.key === 'acct-1').map((m) => JSON.parse(m.value!.toString()).data.version as number);
    const events = await count("SELECT count(*) AS n FROM ledger_events WHERE account_id = 'acct-1' AND type <> 'account_opened'");
    expect(versions).toEqual(Array.from({ length: events }, (_, i) => i + 2));
    const balances = (await readAll(kafka, admin, topics.balances)).filter((m) => m.key === 'acct-1');
    const state = await store.state('acct-1');
    expect(JSON.parse(balances.at(-1)!.value!.toString()).data).toMatchObject({ version: state.version, balanceCredits: 1_000, heldCredits: 70, availableCredits: 930 });
    const letters = await readAll(kafka, admin, topics.deadletter);
    expect(letters).toHaveLength(2);
  });

  it('stamps a balance with the Kafka timestamp of the oldest completion it reflects, across coalesced rows', async () => {
    const now = new Date().toISOString();
    await store.execute([
      { accountId: 'acct-2', command: { type: 'openAccount', data: { plan: 'payg' }, metadata: { now } } },
      { accountId: 'acct-2', command: { type: 'grant', data: { grantId: 'g', credits: 1_000, source: 'purchase' }, metadata: { now } } },
    ]);
    // Two completions applied one at a time, so that the outbox holds a balance row for each (and one without a
    // cause, from the grant above); the publisher then coalesces the three into one message.
    const before = Number((await stored(topics.usage)) ?? '0');
    await producer.send({ topic: topics.usage, ...toKafkaMessage(completion('acct-2')) });
    await until('the first completion', async () => (await stored(topics.usage)) === String(before + 1));
    await sleep(20); // distinct timestamps
    await producer.send({ topic: topics.usage, ...toKafkaMessage(completion('acct-2')) });
    await until('the second completion', async () => (await stored(topics.usage)) === String(before + 2));
    const published = (await readAll(kafka, admin, topics.usage)).slice(before).map((m) => m.timestampMs);
    expect(published).toHaveLength(2);
    expect(published[1]).toBeGreaterThan(published[0]!);

    const rows: { messages: string }[] = await db.query('SELECT messages FROM outbox ORDER BY id');
    const balanceLines = rows.flatMap((r) => r.messages.split('\n')).map(parseOutboxLine).filter((l) => l.kind === 'balance' && l.key === 'acct-2');
    expect(balanceLines.map((l) => l.causedAtMs)).toEqual([null, published[0], published[1]]);

    const publisher = new OutboxPublisher(db, producer, topics, { outboxBatchMax: 16, outboxIdleWaitMs: 20, outboxRetryWaitMsMax: 500 });
    await publisher.drain();
    const balances = (await readAll(kafka, admin, topics.balances)).filter((m) => m.key === 'acct-2');
    expect(balances).toHaveLength(1);
    expect(JSON.parse(balances[0]!.value!.toString()).data).toMatchObject({ balanceCredits: 900 });
    expect(balances[0]!.headers).toEqual({ 'content-type': CLOUDEVENTS_CONTENT_TYPE, [CAUSED_AT_HEADER]: String(published[0]) });

    // A balance no consumed message caused (an HTTP grant, a job) carries no cause.
    await store.execute([
      { accountId: 'acct-3', command: { type: 'openAccount', data: { plan: 'payg' }, metadata: { now } } },
      { accountId: 'acct-3', command: { type: 'grant', data: { grantId: 'g', credits: 10, source: 'purchase' }, metadata: { now } } },
    ]);
    await publisher.drain();
    const uncaused = (await readAll(kafka, admin, topics.balances)).filter((m) => m.key === 'acct-3');
    expect(uncaused.map((m) => m.headers)).toEqual([{ 'content-type': CLOUDEVENTS_CONTENT_TYPE }]);
  });

  it('a publisher whose round failed is healthy again as a standby once another instance holds the lock', async () => {
    // Something to publish, so that a round runs (and fails: the broker "refuses" every send).
    const now = new Date().toISOString();
    await store.execute([{ accountId: 'acct-1', command: { type: 'grant', data: { grantId: 'g-standby', credits: 1, source: 'purchase' }, metadata: { now } } }]);
    const failing = { sendMany: () => Promise.reject(new Error('broker unavailable')) } as unknown as EventProducer;
    const limits = { outboxBatchMax: 16, outboxIdleWaitMs: 20, outboxRetryWaitMsMax: 200 };
    const standby = new OutboxPublisher(db, failing, topics, limits);
    standby.start();
    await until('the failing publisher to report its failed round', async () => !standby.healthy, 10_000);
    // Another instance takes the lock while the failed one backs off (it releases the lock after a failed round), and
    // publishes.
    const active = new OutboxPublisher(db, producer, topics, limits);
    active.start();
    await until('the healthy publisher to take the lock and empty the outbox', async () => (await count('SELECT count(*) AS n FROM outbox')) === 0, 20_000);
    try {
      await until('the failed publisher, now a standby, to be healthy', async () => standby.healthy, 10_000);
      expect(active.healthy).toBe(true);
    } finally {
      await Promise.all([standby.stop(), active.stop()]);
    }
  });
});

async function readAll(kafka: Kafka, admin: KafkaAdmin, topic: string): Promise<ConsumedMessage[]> {
  const end = [...(await admin.highWatermarks(topic)).values()].reduce((s, v) => s + Number(v), 0);
  const out: ConsumedMessage[] = [];
  const reader = new RawBatchConsumer(kafka, { groupId: testName('reader'), topics: [topic], fromBeginning: true, commitOffsets: false });
  await reader.start(async (messages) => void out.push(...messages));
  await until(`${topic} to be read`, async () => out.length >= end);
  await reader.stop();
  return out.sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)));
}
