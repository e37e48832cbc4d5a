/**
 * Completions from producers nobody here wrote (the official CloudEvents SDK, structured and binary mode, its UUIDv4
 * ids; ULID ids) are settled by the ledger, and a second completion of the same admission under a new id changes
 * nothing in the ledger.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS, newEventId, type UsageRequestCompletedV1 } from '@access/contracts';
import { parsePriceBook } from '@access/catalog';
import { repoRoot } from '@access/platform-config';
import { EventProducer, KafkaAdmin, createKafka, type Kafka } from '@access/platform-kafka';
import { createDataSource, dropSchema, migratePostgres, type DataSource } from '@access/platform-postgres';
import { newUlid, requireStack, sdkKafkaMessage, testName, type SdkMode } from '@access/testing';
import { LedgerConsumer } from './ledger-consumer';
import { LedgerStore } from './ledger-store';
import { ledgerMigrations } from './migrations';

const book = parsePriceBook(readFileSync(join(repoRoot, 'config', 'price-book.yaml'), 'utf8'));
if (!book.ok) throw new Error('price book');
const priceBook = book.value;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the ledger settles completions from other CloudEvents producers', () => {
  const schema = testName('ledger_interop');
  const topics = { admissions: testName('adm'), usage: testName('usage') };
  const groupId = testName('group');
  const accountId = 'acct-interop';
  let url: string;
  let kafka: Kafka;
  let admin: KafkaAdmin;
  let producer: EventProducer;
  let db: DataSource;
  let store: LedgerStore;
  let consumer: LedgerConsumer;

  beforeAll(async () => {
    const stack = await requireStack(['kafka', 'postgres']);
    url = stack.databaseUrl;
    await migratePostgres({ url, schema, migrations: ledgerMigrations });
    db = createDataSource({ url, schema, logFailedQueries: false });
    await db.initialize();
    store = new LedgerStore(db);
    kafka = createKafka({ brokers: stack.kafkaBrokers, clientId: 'ledger-interop-int' });
    admin = new KafkaAdmin(kafka);
    await admin.connect();
    await admin.ensureTopics([
      { name: topics.admissions, partitions: 1, compacted: false },
      { name: topics.usage, partitions: 1, compacted: false },
    ]);
    producer = new EventProducer(kafka, { lingerMs: 2 });
    await producer.connect();
    const now = new Date().toISOString();
    await store.execute([
      { accountId, command: { type: 'openAccount', data: { plan: 'payg' }, metadata: { now } } },
      { accountId, command: { type: 'grant', data: { grantId: 'g', credits: 1_000, source: 'purchase' }, metadata: { now } } },
    ]);
    consumer = new LedgerConsumer(kafka, store, { groupId, admissionsTopic: topics.admissions, usageTopic: topics.usage, priceBook, sessionTimeoutMs: 6_000 });
    await consumer.start();
  });

  afterAll(async () => {
    await consumer?.stop().catch(() => undefined);
    await producer?.disconnect();
    await admin?.deleteTopics(Object.values(topics)).catch(() => undefined);
    await admin?.disconnect();
    await db?.destroy();
    await dropSchema(url, schema);
  });

  /** A completion of 5 seconds of 720p video (50 credits by the shipped price book), with no decision before it. */
  function completion(admissionId: string, extra: Partial<UsageRequestCompletedV1> = {}): UsageRequestCompletedV1 {
    const now = new Date().toISOString();
    return {
      admissionId, requestId: `req-${admissionId.slice(-8)}`, accountId, userId: 'u', model: 'sora-2', endpoint: 'video.generate', status: 'succeeded',
      meters: { video_seconds: 5 }, dimensions: { resolution: '720p' }, gpuSeconds: 1, durationMs: 1_000, startedAt: now, endedAt: now, ...extra,
    };
  }
  const publish = (data: UsageRequestCompletedV1, mode: SdkMode, id?: string) =>
    producer.send({ topic: topics.usage, ...sdkKafkaMessage({ type: EVENTS.usageRequestCompleted, source: '//video-service.example', data, ...(id ? { id } : {}) }, mode, accountId) });
  const appliedUpTo = async () => (await store.storedOffsets(groupId, topics.usage)).get(0);
  async function applied(offset: string): Promise<void> {
    const deadline = Date.now() + 60_000;
    while ((await appliedUpTo()) !== offset) {
      if (Date.now() > deadline) throw new Error(`the ledger did not reach offset ${offset}`);
      await sleep(50);
    }
  }
  const settlements = async () =>
    (await db.query(`SELECT data->>'admissionId' AS id, (data->>'actualCredits')::int AS credits FROM ledger_events WHERE type = 'reservation_settled' ORDER BY version`)) as { id: string; credits: number }[];

  it('settles each, in either mode and with any id, and a later completion of one under a new id changes nothing', async () => {
    const admissions = [newEventId(), newEventId(), newEventId()];
    await publish(completion(admissions[0]!), 'structured'); // the SDK's UUIDv4
    await publish(completion(admissions[1]!), 'binary'); // the SDK's UUIDv4
    await publish(completion(admissions[2]!), 'binary', newUlid());
    await applied('3');
    expect(await settlements()).toEqual(admissions.map((id) => ({ id, credits: 50 })));
    const before = await store.state(accountId);

    // A producer retry that rebuilt its envelope: new id; the same content, and other content.
    await publish(completion(admissions[0]!), 'binary');
    await publish(completion(admissions[1]!, { meters: { video_seconds: 9 } }), 'structured', newUlid());
    await applied('5');
    expect(await settlements()).toHaveLength(3);
    const after = await store.state(accountId);
    expect(after.version).toBe(before.version);
    expect(after.balanceCredits).toBe(1_000 - 150);
  });
});
