/**
 * Every timeout, size, retry and backoff of the Kafka adapter, named (units last). Options of the admin, producer and
 * consumer classes override the defaults marked so; the rest are fixed for every service.
 */
export const kafkaLimits = {
  /** A broker that does not accept a TCP connection within this is treated as down (kafkajs retries). */
  connectionTimeoutMs: 3_000,
  /** Longest wait for one broker request (produce, fetch, metadata). */
  requestTimeoutMs: 30_000,
  /** Client retries of one request: first delay, count, and the cap of the exponential backoff. */
  clientRetryInitialMs: 100,
  clientRetries: 8,
  clientRetryMaxMs: 5_000,
  /** Consumer-side retries of group and fetch requests (kafkajs's own, before a crash). */
  consumerRetryInitialMs: 200,
  consumerRetries: 10,
  consumerRetryMaxMs: 5_000,

  /** Compacted topics: clean when a tenth of the log is dirty, and roll segments every 10 minutes so they can be. */
  compactedMinCleanableDirtyRatio: 0.1,
  compactedSegmentMs: 600_000,
  /** How long `ensureTopics` waits for every new partition to have a leader, and how often it looks. */
  leaderWaitMs: 30_000,
  leaderPollMs: 100,

  /** Producer (defaults): how long a message waits for company, and the most messages in one request. */
  producerLingerMs: 2,
  producerBatchMessagesMax: 5_000,

  /** Consumer (defaults): a member silent for this long leaves its group; it heartbeats every `heartbeatIntervalMs`. */
  sessionTimeoutMs: 30_000,
  heartbeatIntervalMs: 3_000,
  /** Bytes fetched per partition (default) and per request (all partitions) at most. */
  fetchBytesPerPartitionMax: 4 * 1024 * 1024,
  fetchBytesMax: 32 * 1024 * 1024,
  /** Longest wait of a fetch for a batch to fill (default). */
  fetchWaitMs: 100,
  /** Backoff of a failed batch: 100 ms doubling per attempt (exponent capped at 10), at most this (default). */
  batchRetryBaseMs: 100,
  batchRetryExponentMax: 10,
  retryBackoffMsMax: 10_000,
  /** Backoff of a restart after kafkajs stopped a consumer for good: 500 ms doubling (exponent capped at 5). */
  crashRestartBaseMs: 500,
  crashRestartExponentMax: 5,
} as const;
