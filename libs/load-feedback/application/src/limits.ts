/**
 * The named maximums of the load-feedback use cases (TIGER_STYLE: every queue, window and cache has one).
 * The controller's own bounds are `feedbackLimits` in @access/load-feedback-domain; these bound what the
 * service keeps around it: the demand window, the latest samples and the reputation job's memory.
 */
export const applicationLimits = {
  /** Width of one demand bucket: demand is summed per bucket and read over the window. */
  demandBucketMs: 250,
  /** Longest demand window (the controller reads demand over one tick interval). */
  demandWindowMsMax: 600_000,
  /** Classes (model|plan|priority) tracked in the demand window; more is a misbehaving producer. */
  demandClassesMax: 64 * 16 * 3,
  /** Decision ids remembered to drop duplicates (redelivery); one window's worth at most. */
  demandSeenIdsMax: 200_000,
  /** Latest samples kept (one per model and region). */
  samplesKeptMax: 64 * 64,
  /** Users whose published factor is remembered (restored from access.reputation.v1 at start). */
  reputationUsersMax: 500_000,
  /** Rows read from the abuse-signals view per run; users beyond are scored next run. */
  reputationRowsPerRunMax: 200_000,
  /** Smallest change of a factor worth publishing: admission rounds limits to whole requests anyway. */
  reputationChangeMin: 0.01,
} as const;

export type ApplicationLimits = typeof applicationLimits;
