/** The ledger's metrics, and the observers that feed them (and log what an operator should see). */
import type { LedgerConsumerObserver, LedgerStoreObserver, OutboxObserver } from '@access/credit-ledger-adapters';
import { Counter, Gauge, Histogram, type Logger, type Registry } from '@access/platform-observability';

export function ledgerMetrics(registry: Registry) {
  const registers = [registry];
  const commands = new Counter({ name: 'ledger_commands_total', help: 'Commands decided, by outcome', labelNames: ['topic', 'outcome'], registers });
  const appended = new Counter({ name: 'ledger_events_appended_total', help: 'Events appended to the log', registers });
  const conflicts = new Counter({ name: 'ledger_append_conflicts_total', help: 'Batches decided again after a concurrent append', registers });
  const batchSeconds = new Histogram({ name: 'ledger_batch_duration_seconds', help: 'Decide and commit one batch', buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers });
  const deadLetters = new Counter({ name: 'ledger_deadletters_total', help: 'Messages sent to the dead-letter topic', labelNames: ['topic'], registers });
  const published = new Counter({ name: 'ledger_outbox_published_total', help: 'Messages published from the outbox', registers });
  const publishFailures = new Counter({ name: 'ledger_outbox_failures_total', help: 'Publisher rounds that failed', registers });
  const seeks = new Counter({ name: 'ledger_consumer_seeks_total', help: 'Seeks to the offsets stored in Postgres', registers });

  const store: LedgerStoreObserver = {
    conflict: () => conflicts.inc(),
    committed: (_commands, events, ms) => {
      appended.inc(events);
      batchSeconds.observe(ms / 1000);
    },
  };
  const publisher = (logger: Logger): OutboxObserver => ({
    published: (messages) => published.inc(messages),
    failed: (error) => {
      publishFailures.inc();
      logger.warn({ err: error }, 'outbox publish failed; retrying');
    },
  });
  const consumer = (logger: Logger): LedgerConsumerObserver => ({
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
  });
  const cachedAccounts = (read: () => number) =>
    new Gauge({ name: 'ledger_cached_accounts', help: 'Account states held in memory', registers, collect() { this.set(read()); } });
  // Read at scrape time, so that an alert sees the depth and the lag as they are, not as a timer last saw them.
  const outboxDepth = (read: () => Promise<number>) =>
    new Gauge({ name: 'ledger_outbox_depth_messages', help: 'Messages written to the outbox and not yet published to Kafka', registers, async collect() { this.set(await read()); } });
  const consumerLag = (read: () => Promise<readonly { group: string; topic: string; partition: number; lag: number }[]>) =>
    new Gauge({
      name: 'kafka_consumer_lag_messages',
      help: 'Messages between the consumer group committed offset and the high watermark, per partition',
      labelNames: ['group', 'topic', 'partition'],
      registers,
      async collect() {
        this.reset();
        for (const row of await read()) this.set({ group: row.group, topic: row.topic, partition: String(row.partition) }, row.lag);
      },
    });
  return { store, publisher, consumer, cachedAccounts, outboxDepth, consumerLag };
}
