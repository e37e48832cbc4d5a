import type { IngestObserver } from '@access/usage-application';
import { errorMessage } from '@access/platform-kafka';
import { Counter, Gauge, Histogram, type Logger, type Registry } from '@access/platform-observability';

/** What an operator watches: throughput, what was skipped and why, dead letters, retries, and lag. */
export class IngestMetrics {
  readonly rowsInserted: Counter<'table'>;
  readonly rowsSkipped: Counter<'table' | 'reason'>;
  readonly batches: Counter<'table'>;
  readonly insertSeconds: Histogram<'table'>;
  readonly deadLetters: Counter<'topic'>;
  readonly retries: Counter<'table'>;
  readonly recoveries: Counter<'table'>;
  readonly lookups: Counter<'table'>;
  readonly lagMessages: Gauge<'group' | 'topic' | 'partition'>;
  readonly retentionDropped: Counter<'table'>;

  constructor(registry?: Registry) {
    const registers = registry ? [registry] : [];
    this.rowsInserted = new Counter({ name: 'usage_ingest_rows_inserted_total', help: 'Rows inserted into ClickHouse', labelNames: ['table'], registers });
    this.rowsSkipped = new Counter({
      name: 'usage_ingest_rows_skipped_total',
      help: 'Events not inserted because they were already stored (below_watermark, duplicate_*, found_in_clickhouse) or expired',
      labelNames: ['table', 'reason'],
      registers,
    });
    this.batches = new Counter({ name: 'usage_ingest_batches_total', help: 'Batches handled', labelNames: ['table'], registers });
    this.insertSeconds = new Histogram({
      name: 'usage_ingest_insert_seconds',
      help: 'Duration of one INSERT',
      labelNames: ['table'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.deadLetters = new Counter({ name: 'usage_ingest_dead_letters_total', help: 'Messages sent to the dead-letter topic', labelNames: ['topic'], registers });
    this.retries = new Counter({ name: 'usage_ingest_retries_total', help: 'Batch attempts that failed and will be retried (ClickHouse down)', labelNames: ['table'], registers });
    this.recoveries = new Counter({
      name: 'usage_ingest_recoveries_total',
      help: 'Partitions whose watermark and recent ids were re-read from ClickHouse (start, rebalance, failed insert)',
      labelNames: ['table'],
      registers,
    });
    this.lookups = new Counter({ name: 'usage_ingest_id_lookups_total', help: 'Event ids looked up in ClickHouse (older than the in-memory window)', labelNames: ['table'], registers });
    this.lagMessages = new Gauge({ name: 'usage_ingest_lag_messages', help: 'High watermark minus committed offset, per consumer group and partition', labelNames: ['group', 'topic', 'partition'], registers });
    this.retentionDropped = new Counter({ name: 'usage_ingest_retention_partitions_dropped_total', help: 'Month partitions dropped by retention', labelNames: ['table'], registers });
  }
}

/** The use cases' observer: counts into `metrics`, and the lines an operator reads into `logger`. */
export function ingestObserver(metrics: IngestMetrics, logger: Logger): IngestObserver {
  return {
    skipped: (table, reason, rows) => metrics.rowsSkipped.inc({ table, reason }, rows),
    lookedUp: (table, keys) => metrics.lookups.inc({ table }, keys),
    inserted: (table, rows) => metrics.rowsInserted.inc({ table }, rows),
    batchDone: (table) => metrics.batches.inc({ table }),
    recovered: (table, detail) => {
      metrics.recoveries.inc({ table });
      logger.info({ table, ...detail }, 'partition recovered from ClickHouse');
    },
    retentionDropped: (dropped) => {
      metrics.retentionDropped.inc({ table: dropped.table });
      logger.info(dropped, 'retention: dropped month partition');
    },
    retentionFailed: (error) => logger.warn({ err: errorMessage(error) }, 'retention pass failed; will try again'),
  };
}
