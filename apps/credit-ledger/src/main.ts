/**
 * credit-ledger: the money. An append-only, event-sourced credit log in Postgres with an outbox to Kafka.
 *
 * Wiring only: configuration, the store, the Kafka consumer (decisions and completions in), the outbox
 * publisher (ledger events and balances out), the expiry and plan-grant jobs, and the HTTP API.
 * See README.md for the environment, the tables and how exactly-once works.
 */
import { topicCatalog, TOPICS } from '@access/contracts';
import {
  ExpiryJob,
  LedgerConsumer,
  LedgerStore,
  OutboxPublisher,
  PlanGrantScheduler,
  ledgerMigrations,
} from '@access/credit-ledger-adapters';
import { kafkaBrokers } from '@access/platform-config';
import { createRuntime, serve } from '@access/platform-http';
import { EventProducer, KafkaAdmin, consumerLag, createKafka, errorMessage } from '@access/platform-kafka';
import { Counter, Gauge, Histogram } from '@access/platform-observability';
import { createDataSource, migratePostgres } from '@access/platform-postgres';
import { ledgerEnvSchema, limitsFromEnv, loadCatalog } from './config';
import { LedgerApi } from './http/ledger-api';
import { LedgerHttpModule, ledgerOpenApi } from './http/module';

async function main(): Promise<void> {
  const rt = await createRuntime('credit-ledger', ledgerEnvSchema);
  const { env, logger } = rt;
  const fail = (message: string, error: unknown): never => {
    logger.fatal({ err: error }, message);
    process.exit(1);
  };
  const limits = (() => {
    try {
      return limitsFromEnv(env);
    } catch (error) {
      return fail('invalid limits', error);
    }
  })();
  const { plans, priceBook } = (() => {
    try {
      return loadCatalog(env.ACCESS_CONFIG_DIR);
    } catch (error) {
      return fail('invalid configuration files', error);
    }
  })();

  // Postgres: the ledger's own schema (tokens stay in the runtime's pool).
  if (env.LEDGER_MIGRATE) await migratePostgres({ url: env.DATABASE_URL, schema: env.LEDGER_DB_SCHEMA, migrations: ledgerMigrations });
  const db = createDataSource({ url: env.DATABASE_URL, schema: env.LEDGER_DB_SCHEMA, poolSizeMax: 8, applicationName: 'credit-ledger', logFailedQueries: false });
  await db.initialize();
  rt.readiness.add({ name: 'ledger-postgres', check: async () => ((await db.query('SELECT 1 AS ok')) as unknown[]).length === 1 });

  // Kafka: the topics this instance uses (created when missing, with the catalog's shape).
  const kafka = createKafka({ brokers: kafkaBrokers(env), clientId: 'credit-ledger', log: (level, msg, extra) => logger[level](extra, msg) });
  const topics = {
    admissions: env.LEDGER_TOPIC_ADMISSIONS,
    usage: env.LEDGER_TOPIC_USAGE,
    ledger: env.LEDGER_TOPIC_LEDGER,
    balances: env.LEDGER_TOPIC_BALANCES,
    deadletter: env.LEDGER_TOPIC_DEADLETTER,
  };
  const admin = new KafkaAdmin(kafka);
  await admin.connect();
  const shapeOf = (name: string, catalogName: string) => {
    const spec = topicCatalog.find((t) => t.name === catalogName)!;
    return { name, partitions: spec.partitions, compacted: spec.compacted };
  };
  await admin.ensureTopics([
    shapeOf(topics.admissions, TOPICS.admissions),
    shapeOf(topics.usage, TOPICS.usage),
    shapeOf(topics.ledger, TOPICS.ledger),
    shapeOf(topics.balances, TOPICS.balances),
    shapeOf(topics.deadletter, TOPICS.deadletter),
  ]);
  await admin.disconnect();
  const producer = new EventProducer(kafka, { lingerMs: 5 });
  await producer.connect();
  rt.readiness.add({ name: 'kafka', check: () => producer.isConnected });

  // Metrics.
  const m = rt.metrics;
  const commands = new Counter({ name: 'ledger_commands_total', help: 'Commands decided, by outcome', labelNames: ['topic', 'outcome'], registers: [m] });
  const appended = new Counter({ name: 'ledger_events_appended_total', help: 'Events appended to the log', registers: [m] });
  const conflicts = new Counter({ name: 'ledger_append_conflicts_total', help: 'Batches decided again after a concurrent append', registers: [m] });
  const batchSeconds = new Histogram({ name: 'ledger_batch_duration_seconds', help: 'Decide and commit one batch', buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers: [m] });
  const deadLetters = new Counter({ name: 'ledger_deadletters_total', help: 'Messages sent to the dead-letter topic', labelNames: ['topic'], registers: [m] });
  const published = new Counter({ name: 'ledger_outbox_published_total', help: 'Messages published from the outbox', registers: [m] });
  const publishFailures = new Counter({ name: 'ledger_outbox_failures_total', help: 'Publisher rounds that failed', registers: [m] });
  const seeks = new Counter({ name: 'ledger_consumer_seeks_total', help: 'Seeks to the offsets stored in Postgres', registers: [m] });

  const publisher = new OutboxPublisher(db, producer, topics, limits, {
    published: (messages) => published.inc(messages),
    failed: (error) => {
      publishFailures.inc();
      logger.warn({ err: error }, 'outbox publish failed; retrying');
    },
  });
  const store = new LedgerStore(db, {
    limits,
    onOutbox: () => publisher.notify(),
    observer: {
      conflict: () => conflicts.inc(),
      committed: (_commands, events, ms) => {
        appended.inc(events);
        batchSeconds.observe(ms / 1000);
      },
    },
  });
  new Gauge({ name: 'ledger_cached_accounts', help: 'Account states held in memory', registers: [m], collect() { this.set(store.cachedAccounts); } });
  // Read at scrape time, so that an alert sees the depth and the lag as they are, not as a timer last saw them.
  new Gauge({
    name: 'ledger_outbox_depth_messages',
    help: 'Messages written to the outbox and not yet published to Kafka',
    registers: [m],
    async collect() {
      const rows: { n: string | null }[] = await db.query('SELECT sum(message_count) AS n FROM outbox');
      this.set(Number(rows[0]?.n ?? 0));
    },
  });
  const lagAdmin = new KafkaAdmin(kafka);
  let lagAdminConnected = false;
  new Gauge({
    name: 'kafka_consumer_lag_messages',
    help: 'Messages between the consumer group committed offset and the high watermark, per partition',
    labelNames: ['group', 'topic', 'partition'],
    registers: [m],
    async collect() {
      if (!lagAdminConnected) {
        await lagAdmin.connect();
        lagAdminConnected = true;
      }
      this.reset();
      for (const row of await consumerLag(lagAdmin, env.LEDGER_GROUP_ID, [topics.admissions, topics.usage])) {
        this.set({ group: row.group, topic: row.topic, partition: String(row.partition) }, row.lag);
      }
    },
  });

  const consumer = new LedgerConsumer(kafka, store, {
    groupId: env.LEDGER_GROUP_ID,
    admissionsTopic: topics.admissions,
    usageTopic: topics.usage,
    priceBook,
    sessionTimeoutMs: env.LEDGER_SESSION_TIMEOUT_MS,
    partitionsConcurrently: env.LEDGER_PARTITIONS_CONCURRENTLY,
    commitToKafka: env.LEDGER_KAFKA_COMMIT_OFFSETS,
    observer: {
      outcome: (topic, kind) => commands.inc({ topic, outcome: kind }),
      deadLettered: (topic, reason) => {
        deadLetters.inc({ topic });
        logger.warn({ topic, reason }, 'message dead-lettered');
      },
      skipped: (topic, partition, messages) => logger.info({ topic, partition, messages }, 'skipped redelivered messages already applied'),
      retry: (error, attempt, delayMs) => logger.warn({ err: error, attempt, delayMs }, 'batch failed; retrying'),
      sought: (topic, partition, offset) => {
        seeks.inc();
        logger.info({ topic, partition, offset }, 'resuming from the offset stored in Postgres');
      },
    },
  });
  rt.readiness.add({ name: 'consumer-assigned', check: () => consumer.isRunning && consumer.assignment.length > 0 });
  rt.readiness.add({ name: 'outbox-publisher', check: () => publisher.healthy });

  // Clock-driven jobs: one round at a time each, never overlapping.
  const expiry = new ExpiryJob(store);
  const scheduler = new PlanGrantScheduler(store, plans);
  const timers: NodeJS.Timeout[] = [];
  const every = (name: string, ms: number, job: () => Promise<unknown>) => {
    let running = false;
    const tick = () => {
      if (running) return;
      running = true;
      job()
        .catch((error: unknown) => logger.warn({ job: name, err: errorMessage(error) }, 'job round failed; next round retries'))
        .finally(() => (running = false));
    };
    timers.push(setInterval(tick, ms));
    tick();
  };

  publisher.start();
  await consumer.start();
  every('expiry', env.LEDGER_EXPIRY_INTERVAL_MS, async () => {
    await expiry.runOnce();
    await expiry.pruneAllowances(env.LEDGER_ALLOWANCE_RETENTION_MS);
  });
  every('plan-grants', env.LEDGER_PLAN_GRANT_INTERVAL_MS, () => scheduler.runOnce());

  const api = new LedgerApi(store, plans, scheduler);
  await serve(LedgerHttpModule.forRoot(rt.shell(ledgerOpenApi()), api), {
    name: 'credit-ledger',
    port: env.LEDGER_PORT,
    logger,
    onShutdown: async () => {
      for (const timer of timers) clearInterval(timer);
      await consumer.stop();
      await publisher.stop();
      await producer.disconnect();
      if (lagAdminConnected) await lagAdmin.disconnect();
      await db.destroy();
      await rt.close();
    },
  });
}

void main();
