/**
 * Every bound of usage-ingest, in one place (STYLE.md: limits on everything). Units go last in names.
 * `validateIngestLimits` runs at boot; a bad override stops the process before it consumes anything.
 */
export interface IngestLimits {
  /** Bytes one fetch may return per partition: the byte bound of one batch (one partition's messages). */
  batchBytesPerPartitionMax: number;
  /** How long the broker may hold a fetch to fill it: the wait bound of one batch. */
  batchWaitMsMax: number;
  /**
   * Rows in one INSERT statement: the count bound. Far below ClickHouse's max_insert_block_size (1,048,576), so
   * every INSERT is one block, written whole or not at all, which is what the offset watermark relies on.
   */
  insertRowsMax: number;
  /** Bytes of JSONEachRow in one INSERT statement. */
  insertBytesMax: number;
  /**
   * How long rows may wait for the batches of other partitions to share their INSERT: the wait bound. ClickHouse
   * pays per INSERT (a part per month, in the table and each materialized view), so a few large ones win.
   */
  insertWaitMsMax: number;
  /** Partition batches of one topic handled at once, whose rows can share an INSERT. */
  partitionsConsumedConcurrently: number;
  /** Per partition, the most recent event ids kept in memory to skip duplicates sent again with a new offset. */
  dedupeWindowIdsPerPartitionMax: number;
  /**
   * Producers' clocks may disagree by this much. An event whose id is older than the start of the in-memory window
   * (minus this margin) may have a first copy the window no longer holds, so it is looked up in ClickHouse.
   */
  clockSkewMarginMs: number;
  /**
   * Longest time between admission deciding a request (the time in its admissionId) and the decision's message
   * timestamp. A completion whose decision is not stored waits until the decisions consumer has passed that point.
   */
  decisionPublishLatencyMsMax: number;
  /**
   * A decision's `decidedAt` and the time in its admissionId are taken together by admission; the lookup of a
   * completion's decision searches this far around the admissionId's time (clock steps, slow decisions).
   */
  decisionTimeMarginMs: number;
  /** Keys per lookup query (with a byte bound, keeps the SQL below ClickHouse's max_query_size of 256 KiB). */
  lookupIdsPerQueryMax: number;
  /** Ceiling of the exponential backoff while ClickHouse is down. */
  retryBackoffMsMax: number;
  /** One INSERT or lookup may take this long before it counts as failed (and is retried). */
  clickhouseRequestTimeoutMs: number;
  /** Rows older than this many days (by month partition) are dropped, and not ingested. */
  retentionDays: number;
  /** How often the retention job runs. */
  retentionIntervalMs: number;
}

export const defaultIngestLimits: IngestLimits = {
  batchBytesPerPartitionMax: 4 * 1024 * 1024,
  batchWaitMsMax: 250,
  insertRowsMax: 50_000,
  insertBytesMax: 32 * 1024 * 1024,
  insertWaitMsMax: 20,
  partitionsConsumedConcurrently: 8,
  dedupeWindowIdsPerPartitionMax: 50_000,
  clockSkewMarginMs: 1_000,
  decisionPublishLatencyMsMax: 5_000,
  decisionTimeMarginMs: 60_000,
  lookupIdsPerQueryMax: 2_000,
  retryBackoffMsMax: 10_000,
  clickhouseRequestTimeoutMs: 60_000,
  retentionDays: 400,
  retentionIntervalMs: 60 * 60 * 1000,
};

/** Hard bounds each limit must stay within; outside them the service would be unsafe or useless. */
const ranges: { [K in keyof IngestLimits]: readonly [min: number, max: number] } = {
  batchBytesPerPartitionMax: [64 * 1024, 64 * 1024 * 1024],
  batchWaitMsMax: [1, 10_000],
  insertRowsMax: [1, 500_000],
  insertBytesMax: [1024 * 1024, 256 * 1024 * 1024],
  insertWaitMsMax: [0, 10_000],
  partitionsConsumedConcurrently: [1, 256],
  dedupeWindowIdsPerPartitionMax: [1_000, 1_000_000],
  clockSkewMarginMs: [0, 600_000],
  decisionPublishLatencyMsMax: [0, 600_000],
  decisionTimeMarginMs: [1_000, 24 * 60 * 60 * 1000],
  lookupIdsPerQueryMax: [1, 5_000],
  retryBackoffMsMax: [100, 300_000],
  clickhouseRequestTimeoutMs: [1_000, 600_000],
  retentionDays: [1, 36_500],
  retentionIntervalMs: [1_000, 7 * 24 * 60 * 60 * 1000],
};

export type LimitsResult = { ok: true; limits: IngestLimits } | { ok: false; errors: string[] };

/** Merges overrides into the defaults and checks every value is an integer within its range. */
export function validateIngestLimits(overrides: Partial<IngestLimits> = {}): LimitsResult {
  const limits: IngestLimits = { ...defaultIngestLimits, ...overrides };
  const errors: string[] = [];
  for (const key of Object.keys(ranges) as (keyof IngestLimits)[]) {
    const [min, max] = ranges[key];
    const value = limits[key];
    if (!Number.isInteger(value) || value < min || value > max) errors.push(`${key} must be an integer from ${min} to ${max} (got ${value})`);
  }
  return errors.length === 0 ? { ok: true, limits } : { ok: false, errors };
}
