/**
 * The Kafka client: kafkajs configured with the library's limits and its log lines routed to the service's logger,
 * the shapes of messages written and consumed, and a service's connection at boot. The admin, producer and consumer live
 * in files of their own and are exported from here too. kafkajs is imported only inside this library; other code holds
 * the client as the `Kafka` it hands back to these classes and never calls it.
 */
import { Kafka, logLevel } from 'kafkajs';
import { KafkaAdmin } from './admin';
import { errorMessage } from './errors';
import { kafkaLimits as L } from './limits';
import { EventProducer, type ProducerOptions } from './producer';

export { KafkaAdmin, type TopicSpec } from './admin';
export { EventProducer, type ProducerOptions } from './producer';
export { RawBatchConsumer, type BatchContext, type RawConsumerOptions } from './consumer';
export { sleep } from './backoff';

export interface KafkaOptions {
  brokers: string[];
  clientId: string;
  /** Receives kafkajs's own log lines (warnings and errors only). */
  log?: (level: 'warn' | 'error', message: string, extra: Record<string, unknown>) => void;
}

export interface OutgoingMessage {
  topic: string;
  key: string | null;
  value: string | Buffer;
  headers?: Record<string, string>;
  partition?: number;
}

export interface ConsumedMessage {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: Buffer | null;
  headers: Record<string, string>;
  timestampMs: number;
}

export function createKafka(options: KafkaOptions): Kafka {
  // kafkajs v2 warns once per process about its default partitioner; our keys choose partitions.
  process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
  return new Kafka({
    clientId: options.clientId,
    brokers: options.brokers,
    connectionTimeout: L.connectionTimeoutMs,
    requestTimeout: L.requestTimeoutMs,
    retry: { initialRetryTime: L.clientRetryInitialMs, retries: L.clientRetries, maxRetryTime: L.clientRetryMaxMs },
    logLevel: logLevel.WARN,
    logCreator: () => ({ level, log }) => {
      if (!options.log) return;
      const { message, ...extra } = log as { message: string } & Record<string, unknown>;
      // Our producer bounds its retries on purpose (a send must fail rather than hang); duplicates that a retry
      // could cause are harmless because every consumer is idempotent by event id.
      if (message.startsWith('Limiting retries for the idempotent producer')) return;
      // "The coordinator is loading" and similar are retried by kafkajs itself on a fresh broker.
      options.log(level === logLevel.ERROR ? 'error' : 'warn', `kafkajs: ${message}`, extra);
    },
  });
}

/** What `connectKafkaOrExit` logs through (a pino logger is one). */
export interface KafkaProcessLogger {
  fatal(extra: Record<string, unknown>, message: string): void;
  warn(extra: Record<string, unknown>, message: string): void;
  error(extra: Record<string, unknown>, message: string): void;
}

/**
 * A service's Kafka at boot: the client (its log lines through `logger`), an admin and a producer, both connected.
 * A broker that does not answer ends the process (exit 1) with one line naming KAFKA_BROKERS and the command that
 * starts the local stack.
 */
export async function connectKafkaOrExit(options: {
  brokers: string[];
  clientId: string;
  logger: KafkaProcessLogger;
  producer?: ProducerOptions;
}): Promise<{ kafka: Kafka; admin: KafkaAdmin; producer: EventProducer }> {
  const { logger } = options;
  const kafka = createKafka({ brokers: options.brokers, clientId: options.clientId, log: (level, message, extra) => logger[level](extra, message) });
  const admin = new KafkaAdmin(kafka);
  const producer = new EventProducer(kafka, options.producer);
  try {
    await Promise.all([admin.connect(), producer.connect()]);
  } catch (error) {
    logger.fatal({ err: errorMessage(error) }, 'cannot connect to Kafka (KAFKA_BROKERS); is the stack up? npm run infra:up');
    process.exit(1);
  }
  return { kafka, admin, producer };
}

export { errorMessage };
export type { Kafka };
