/** The console's named maxima (units last), so that what it keeps in memory and asks for is bounded. */
export const consoleLimits = {
  /** Dead letters kept in memory, newest first; older ones are still on the topic. */
  deadLettersKeptMax: 2_000,
  /** Dead letters one list answer returns. */
  deadLettersListedMax: 200,
  /** Characters of a dead message's decoded value shown; the rest is cut with a note. */
  deadLetterValueShownCharsMax: 20_000,
  /** The overview's window, and how far back its ClickHouse queries look. */
  overviewWindowS: 15 * 60,
  /** Width of one point of the decisions chart. */
  decisionsBucketS: 10,
  /** Width of one point of the multipliers chart. */
  multipliersBucketS: 30,
  /** How often the services' /metrics are read for lag and freshness (the charts' resolution). */
  metricsSampleMs: 5_000,
  /** Samples of /metrics kept: the overview window at metricsSampleMs. */
  metricsSamplesMax: 180,
  /** The window over which balance freshness percentiles are computed, from the histogram's change. */
  freshnessWindowMs: 60_000,
  /** Dead letters per hour are shown for this many hours. */
  deadLetterHours: 24,
  accountSearchRowsMax: 50,
  accountDecisionsMax: 50,
  accountHoldsMax: 100,
  /** The usage chart's window and point width. */
  usageWindowS: 6 * 3600,
  usageBucketS: 300,
  /** Users on the limits page, the most active first. */
  activeUsersMax: 20,
  /** Ledger events one page asks for. */
  eventsPageSizeMax: 100,
  /** Every call to a service or ClickHouse gives up after this long. */
  upstreamTimeoutMs: 5_000,
} as const;
