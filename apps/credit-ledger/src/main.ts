/**
 * credit-ledger: the money. An append-only, event-sourced credit log in Postgres with an outbox to Kafka.
 *
 * Wiring only: configuration, the store, the Kafka consumer (decisions and completions in), the outbox
 * publisher (ledger events and balances out), the expiry and plan-grant jobs, and the HTTP API.
 * See README.md for the environment, the tables and how exactly-once works.
 */
import { AccountUseCases, ExpiryJob, PlanGrantScheduler } from '@access/credit-ledger-application';
import { LedgerConsumer, LedgerSql, LedgerStore, OutboxPublisher, ledgerMigrations } from '@access/credit-ledger-adapters';
import { bootService } from '@access/platform-bootstrap';
import { consumerLag } from '@access/platform-kafka';
import { createDataSource, migratePostgres } from '@access/platform-postgres';
import { ledgerEnvSchema, limitsFromEnv, loadCatalog, topicsFromEnv } from './config';
import { LedgerHttpModule, ledgerOpenApi } from './http/module';
import { ledgerMetrics } from './metrics';

async function main(): Promise<void> {
  const boot = await bootService('credit-ledger', ledgerEnvSchema);
  const { env, logger } = boot;
  const limits = boot.configOrExit('ledger limits', () => limitsFromEnv(env));
  const { plans, priceBook } = boot.configOrExit(`configuration files in ${env.ACCESS_CONFIG_DIR}`, () => loadCatalog(env.ACCESS_CONFIG_DIR));
  const topics = topicsFromEnv(env);
  const metrics = ledgerMetrics(boot.metrics);

  // Postgres: the ledger's own schema (tokens stay in the runtime's pool).
  if (env.LEDGER_MIGRATE) await migratePostgres({ url: env.DATABASE_URL, schema: env.LEDGER_DB_SCHEMA, migrations: ledgerMigrations });
  const db = createDataSource({ url: env.DATABASE_URL, schema: env.LEDGER_DB_SCHEMA, poolSizeMax: 8, applicationName: 'credit-ledger', logFailedQueries: false });
  await db.initialize();
  boot.onStop('ledger pool', () => db.destroy());
  const sql = new LedgerSql(db);
  boot.ready('ledger-postgres', () => sql.ping());

  // Kafka: the topics this instance uses (created when missing, with the catalog's shape).
  const { kafka, admin, producer } = await boot.connectKafka({ producer: { lingerMs: 5 } });
  await admin.ensureTopics(topics.shapes);
  boot.ready('kafka', () => producer.isConnected);

  const publisher = new OutboxPublisher(db, producer, topics, limits, metrics.publisher(logger));
  boot.onStop('outbox publisher', () => publisher.stop());
  const store = new LedgerStore(db, { limits, onOutbox: () => publisher.notify(), observer: metrics.store });
  metrics.cachedAccounts(() => store.cachedAccounts);
  metrics.outboxDepth(() => sql.outboxDepth());
  metrics.consumerLag(() => consumerLag(admin, env.LEDGER_GROUP_ID, [topics.admissions, topics.usage]));
  const consumer = new LedgerConsumer(kafka, store, {
    groupId: env.LEDGER_GROUP_ID,
    admissionsTopic: topics.admissions,
    usageTopic: topics.usage,
    priceBook,
    sessionTimeoutMs: env.LEDGER_SESSION_TIMEOUT_MS,
    partitionsConcurrently: env.LEDGER_PARTITIONS_CONCURRENTLY,
    commitToKafka: env.LEDGER_KAFKA_COMMIT_OFFSETS,
    observer: metrics.consumer(logger),
  });
  boot.onStop('consumer', () => consumer.stop());
  boot.ready('consumer-assigned', () => consumer.isRunning && consumer.assignment.length > 0);
  boot.ready('outbox-publisher', () => publisher.healthy);

  publisher.start();
  await consumer.start();
  // Clock-driven jobs: one round at a time each, never overlapping.
  const expiry = new ExpiryJob(store);
  const scheduler = new PlanGrantScheduler(store, plans);
  const immediately = { immediately: true };
  boot.every('expiry', env.LEDGER_EXPIRY_INTERVAL_MS, async () => {
    await expiry.runOnce();
    await expiry.pruneAllowances(env.LEDGER_ALLOWANCE_RETENTION_MS);
  }, immediately);
  boot.every('plan-grants', env.LEDGER_PLAN_GRANT_INTERVAL_MS, () => scheduler.runOnce(), immediately);

  const api = new AccountUseCases(store, plans, scheduler);
  await boot.serve(LedgerHttpModule.forRoot(boot.shell(ledgerOpenApi()), api), { port: env.LEDGER_PORT });
}

void main();
