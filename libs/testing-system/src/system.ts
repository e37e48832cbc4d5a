/**
 * Some or all of the four services as real processes on the shared local stack, isolated the way every test here
 * is: topics, consumer groups, the ledger's Postgres schema and a ClickHouse database of the run's own, ports the
 * OS handed out, and a token with every scope (revoked at the end). The services talk to each other over the
 * run's topics exactly as in production, so a test drives the whole loop through the public HTTP contracts.
 */
import { join } from 'node:path';
import { TOPICS, topicCatalog } from '@access/contracts';
import { SCOPES, TokenStore } from '@access/platform-auth';
import { Clickhouse, identifier, migrateClickhouse } from '@access/platform-clickhouse';
import { KafkaAdmin, createKafka } from '@access/platform-kafka';
import { createDataSource, dropSchema } from '@access/platform-postgres';
import { freePort, repoRoot, startService, testName, waitReady, type Service, type Stack } from '@access/testing';

export type ServiceName = 'admission' | 'credit-ledger' | 'usage-ingest' | 'load-feedback';

const entries: Record<ServiceName, string> = {
  admission: 'apps/admission/src/main.ts',
  'credit-ledger': 'apps/credit-ledger/src/main.ts',
  'usage-ingest': 'apps/usage-ingest/src/main.ts',
  'load-feedback': 'apps/load-feedback/src/main.ts',
};

type TopicKey = keyof typeof TOPICS;

/** Four services compiling with tsx at once on a shared 2-core machine take a minute and more to be ready. */
const serviceReadyMs = 180_000;

export interface TestSystem {
  readonly id: string;
  readonly token: string;
  /** The run's topic for each topic of the catalog. */
  readonly topics: Record<TopicKey, string>;
  readonly ledgerSchema: string;
  readonly clickhouseDatabase: string;
  /** `http://127.0.0.1:<port>` of each started service. */
  readonly urls: Partial<Record<ServiceName, string>>;
  /** The environment every process of the run gets (the CLI too). */
  readonly env: Record<string, string>;
  output(name: ServiceName): string;
  /** Stops the services and drops what the run made. */
  close(): Promise<void>;
}

/** `options.env` is added to every service's environment (e.g. OTEL_* to export their traces to the test). */
export async function startSystem(stack: Stack, services: readonly ServiceName[], options: { env?: Record<string, string> } = {}): Promise<TestSystem> {
  const id = testName('sys');
  const topics = Object.fromEntries(Object.entries(TOPICS).map(([key, name]) => [key, `${id}.${name}`])) as Record<TopicKey, string>;
  const ledgerSchema = id;
  const clickhouseDatabase = id;
  const needsClickhouse = services.includes('usage-ingest') || services.includes('load-feedback');

  const kafka = createKafka({ brokers: stack.kafkaBrokers, clientId: 'access-test-system' });
  const admin = new KafkaAdmin(kafka);
  await admin.connect();
  const specs = topicCatalog.map((spec) => ({ name: `${id}.${spec.name}`, partitions: spec.partitions, compacted: spec.compacted }));
  // Creating eight topics at once on the shared broker can fail transiently while its metadata catches up
  // ("does not host this topic-partition"); ensureTopics creates only what is missing, so trying again is safe.
  for (let attempt = 1; ; attempt++) {
    try {
      await admin.ensureTopics(specs);
      break;
    } catch (error) {
      if (attempt >= 3) throw error;
      await new Promise((r) => setTimeout(r, 1_000));
    }
  }
  if (needsClickhouse) await migrateClickhouse({ url: stack.clickhouseUrl, database: clickhouseDatabase, dir: join(repoRoot, 'infra', 'clickhouse', 'migrations') });
  const db = createDataSource({ url: stack.databaseUrl, poolSizeMax: 1, applicationName: 'access-test-system' });
  await db.initialize();
  const tokens = new TokenStore(db);
  const { id: tokenId, token } = await tokens.create(`${id}-all-scopes`, [...SCOPES]);

  const ports = Object.fromEntries(await Promise.all(services.map(async (name) => [name, await freePort()] as const))) as Partial<Record<ServiceName, number>>;
  const env: Record<string, string> = {
    KAFKA_BROKERS: stack.kafkaBrokers.join(','),
    DATABASE_URL: stack.databaseUrl,
    CLICKHOUSE_URL: stack.clickhouseUrl,
    CLICKHOUSE_DATABASE: clickhouseDatabase,
    TOKEN_REFRESH_MS: '500',
    ...(ports.admission === undefined ? {} : { ADMISSION_PORT: String(ports.admission) }),
    ...(ports['credit-ledger'] === undefined ? {} : { LEDGER_PORT: String(ports['credit-ledger']) }),
    ...(ports['usage-ingest'] === undefined ? {} : { USAGE_INGEST_PORT: String(ports['usage-ingest']) }),
    ...(ports['load-feedback'] === undefined ? {} : { LOAD_FEEDBACK_PORT: String(ports['load-feedback']) }),
    ADMISSION_TOPIC_ADMISSIONS: topics.admissions,
    ADMISSION_TOPIC_USAGE: topics.usage,
    ADMISSION_TOPIC_LEDGER: topics.ledger,
    ADMISSION_TOPIC_BALANCES: topics.balances,
    ADMISSION_TOPIC_LIMITS: topics.limits,
    ADMISSION_TOPIC_REPUTATION: topics.reputation,
    ADMISSION_TOPIC_DEADLETTER: topics.deadletter,
    LEDGER_DB_SCHEMA: ledgerSchema,
    LEDGER_GROUP_ID: `${id}.credit-ledger`,
    LEDGER_SESSION_TIMEOUT_MS: '6000',
    LEDGER_TOPIC_ADMISSIONS: topics.admissions,
    LEDGER_TOPIC_USAGE: topics.usage,
    LEDGER_TOPIC_LEDGER: topics.ledger,
    LEDGER_TOPIC_BALANCES: topics.balances,
    LEDGER_TOPIC_DEADLETTER: topics.deadletter,
    USAGE_INGEST_GROUP_ID: `${id}.usage-ingest`,
    USAGE_INGEST_SESSION_TIMEOUT_MS: '6000',
    USAGE_INGEST_TOPIC_ADMISSIONS: topics.admissions,
    USAGE_INGEST_TOPIC_USAGE: topics.usage,
    USAGE_INGEST_TOPIC_LEDGER: topics.ledger,
    USAGE_INGEST_DEADLETTER_TOPIC: topics.deadletter,
    LOAD_FEEDBACK_TOPIC_LOAD: topics.load,
    LOAD_FEEDBACK_TOPIC_ADMISSIONS: topics.admissions,
    LOAD_FEEDBACK_TOPIC_LIMITS: topics.limits,
    LOAD_FEEDBACK_TOPIC_REPUTATION: topics.reputation,
    LOAD_FEEDBACK_TOPIC_DEADLETTER: topics.deadletter,
    ...options.env,
  };
  const running = new Map<ServiceName, Service>();
  const close = async () => {
    await Promise.all([...running.values()].map((s) => s.kill('SIGTERM')));
    await tokens.revoke(tokenId).catch(() => undefined);
    await db.destroy().catch(() => undefined);
    await admin.deleteTopics(Object.values(topics)).catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
    await dropSchema(stack.databaseUrl, ledgerSchema).catch(() => undefined);
    if (needsClickhouse) {
      // DROP DATABASE of the tables, views and rollups takes ClickHouse 18.16 ten seconds and more.
      const ch = new Clickhouse({ url: stack.clickhouseUrl, database: clickhouseDatabase, requestTimeoutMs: 120_000 });
      await ch.command(`DROP DATABASE IF EXISTS ${identifier(clickhouseDatabase)}`).catch(() => undefined);
      await ch.close();
    }
  };
  try {
    for (const name of services) running.set(name, startService(entries[name], env, ports[name]!));
    await Promise.all([...running].map(([name, s]) => waitReady(s, serviceReadyMs).catch((error: unknown) => Promise.reject(new Error(`${name}: ${error instanceof Error ? error.message : String(error)}`)))));
  } catch (error) {
    await close();
    throw error;
  }
  return {
    id,
    token,
    topics,
    ledgerSchema,
    clickhouseDatabase,
    urls: Object.fromEntries(Object.entries(ports).map(([name, port]) => [name, `http://127.0.0.1:${port}`])),
    env,
    output: (name) => running.get(name)?.output() ?? '',
    close,
  };
}
