/**
 * Wires the sink from configuration; shared by main.ts (the service) and worker.ts (the sink alone).
 */
import { Clickhouse } from '@access/platform-clickhouse';
import { kafkaBrokers } from '@access/platform-config';
import { EventProducer, KafkaAdmin, createKafka } from '@access/platform-kafka';
import type { Logger, Registry } from '@access/platform-observability';
import { RetentionJob } from '@access/usage-application';
import { ClickhouseUsageStore, IngestMetrics, UsageSink, ingestObserver, loadPriceBook, priceFnOf } from '@access/usage-adapters';
import { limitsFromEnv, type IngestEnv } from './config';

export interface Ingest {
  sink: UsageSink;
  store: ClickhouseUsageStore;
  retention: RetentionJob;
  producer: EventProducer;
  admin: KafkaAdmin;
  metrics: IngestMetrics;
  /** Starts consuming and the retention job. */
  start(): Promise<void>;
  /** Finishes the batch in hand, commits it, and closes every connection. */
  stop(): Promise<void>;
}

export function createIngest(env: IngestEnv, logger: Logger, registry?: Registry): Ingest {
  const limits = limitsFromEnv(env);
  const kafka = createKafka({ brokers: kafkaBrokers(env), clientId: 'usage-ingest', log: (level, msg, extra) => logger[level](extra, msg) });
  const producer = new EventProducer(kafka);
  const admin = new KafkaAdmin(kafka);
  const clickhouse = new Clickhouse({ url: env.CLICKHOUSE_URL, database: env.CLICKHOUSE_DATABASE, requestTimeoutMs: limits.clickhouseRequestTimeoutMs });
  const store = new ClickhouseUsageStore(clickhouse);
  const metrics = new IngestMetrics(registry);
  const price = priceFnOf(loadPriceBook(env.ACCESS_CONFIG_DIR));
  const sink = new UsageSink({
    kafka,
    producer,
    store,
    price,
    limits,
    logger,
    metrics,
    groupId: env.USAGE_INGEST_GROUP_ID,
    deadLetterTopic: env.USAGE_INGEST_DEADLETTER_TOPIC,
    sessionTimeoutMs: env.USAGE_INGEST_SESSION_TIMEOUT_MS,
    topics: [
      { table: 'admission_decisions', topic: env.USAGE_INGEST_TOPIC_ADMISSIONS },
      { table: 'request_usage', topic: env.USAGE_INGEST_TOPIC_USAGE },
      { table: 'ledger_entries', topic: env.USAGE_INGEST_TOPIC_LEDGER },
    ],
  });
  const retention = new RetentionJob(store, { retentionDays: limits.retentionDays, intervalMs: limits.retentionIntervalMs, observer: ingestObserver(metrics, logger) });
  return {
    sink,
    store,
    retention,
    producer,
    admin,
    metrics,
    async start() {
      await producer.connect();
      await admin.connect();
      await sink.start();
      retention.start();
      logger.info({ database: env.CLICKHOUSE_DATABASE, groupId: env.USAGE_INGEST_GROUP_ID, limits }, 'usage-ingest sink started');
    },
    async stop() {
      await retention.stop();
      await sink.stop();
      await producer.disconnect();
      await admin.disconnect();
      await clickhouse.close();
    },
  };
}
