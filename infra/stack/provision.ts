/**
 * What `infra:up` does once the servers answer: readiness probes, the topics of the catalog, the Postgres
 * database and migrations, and the ClickHouse schema migrations.
 */
import { join } from 'node:path';
import { topicCatalog } from '@access/contracts';
import { Clickhouse, migrateClickhouse } from '@access/platform-clickhouse';
import { KafkaAdmin, createKafka } from '@access/platform-kafka';
import { ensureDatabase, withClient, migratePostgres } from '@access/platform-postgres';
import { postgresMigrations } from './migrations';
import { repoRoot, type ServerName } from './servers';

export const env = {
  kafkaBrokers: (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(','),
  databaseUrl: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/access',
  clickhouseUrl: process.env.CLICKHOUSE_URL ?? 'http://127.0.0.1:8123',
  clickhouseDatabase: process.env.CLICKHOUSE_DATABASE ?? 'access',
};

export const clickhouseMigrationsDir = join(repoRoot, 'infra', 'clickhouse', 'migrations');

export const readiness: Record<ServerName, () => Promise<void>> = {
  async postgres() {
    const admin = new URL(env.databaseUrl);
    admin.pathname = '/postgres';
    await withClient(admin.toString(), (c) => c.query('SELECT 1'));
  },
  async clickhouse() {
    const ch = new Clickhouse({ url: env.clickhouseUrl, database: 'default', requestTimeoutMs: 2_000 });
    try {
      if (!(await ch.ping())) throw new Error('ping failed');
    } finally {
      await ch.close();
    }
  },
  async kafka() {
    const admin = new KafkaAdmin(createKafka({ brokers: env.kafkaBrokers, clientId: 'access-infra' }));
    await admin.connect();
    try {
      const cluster = await admin.describeCluster();
      if (cluster.brokers < 1) throw new Error('no broker registered yet');
    } finally {
      await admin.disconnect();
    }
  },
};

export interface ProvisionSummary {
  topicsCreated: number;
  postgresMigrations: number;
  clickhouseMigrations: number;
}

export async function provision(): Promise<ProvisionSummary> {
  const admin = new KafkaAdmin(createKafka({ brokers: env.kafkaBrokers, clientId: 'access-infra' }));
  await admin.connect();
  let created: string[];
  try {
    created = await admin.ensureTopics(topicCatalog.map((t) => ({ name: t.name, partitions: t.partitions, compacted: t.compacted })));
  } finally {
    await admin.disconnect();
  }
  await ensureDatabase(env.databaseUrl);
  const postgresApplied = await migratePostgres({ url: env.databaseUrl, migrations: postgresMigrations });
  const clickhouseApplied = await migrateClickhouse({
    url: env.clickhouseUrl,
    database: env.clickhouseDatabase,
    dir: clickhouseMigrationsDir,
  });
  return { topicsCreated: created.length, postgresMigrations: postgresApplied, clickhouseMigrations: clickhouseApplied };
}
