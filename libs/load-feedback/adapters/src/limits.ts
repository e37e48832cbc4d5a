/**
 * The named maximums of the load-feedback adapters (TIGER_STYLE: every queue, window and cache has one): what
 * reading the compacted topics back at start may hold and wait for. The use cases' bounds are
 * `applicationLimits` in @access/load-feedback-application.
 */
export const adapterLimits = {
  /** Events read from a compacted topic at start, at most (limits: a few hundred; reputation: one per user). */
  compactedEventsMax: 2_000_000,
  /** Longest wait for a compacted topic to be read to its end at start. */
  restoreTimeoutMs: 120_000,
} as const;

export type AdapterLimits = typeof adapterLimits;
