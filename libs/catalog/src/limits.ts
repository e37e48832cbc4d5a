/**
 * Named maxima for everything the catalog accepts. They are checked when the files are parsed, so a
 * service that booted can rely on them: in particular every price computes exactly in float64
 * integers (see pricing.ts), and every protective limit times the rate limiter's period stays far
 * below 2^53 (see the admission domain's gcra.ts).
 */
export const catalogLimits = {
  /** Models in one price book. */
  modelsMax: 1_000,
  /** Meters of one model (video_seconds, input_tokens, ...). */
  metersPerModelMax: 16,
  /** Pricing dimensions of one model (resolution, ...). */
  dimensionsPerModelMax: 8,
  /** Values of one dimension (480p, 720p, ...). */
  dimensionValuesMax: 64,
  /** Decimal places of a unit price; with `perUnitsMax` this keeps a price's denominator below 1e12. */
  priceDecimalsMax: 6,
  /** Decimal places of a dimension factor. */
  factorDecimalsMax: 6,
  /** Largest price, in credits per `per` units. */
  unitPriceCreditsMax: 1_000_000,
  /** Largest `per` (prices are often quoted per 1k or 1M tokens). */
  perUnitsMax: 1_000_000,
  /** Largest dimension factor. */
  dimensionFactorMax: 1_000,
  /** Largest quantity of one meter in one request. */
  meterQuantityMax: 1e12,
  /**
   * Largest cost of one request. A billion credits is far beyond any real job, and keeping costs this
   * small keeps cost x period (the rate limiter's arithmetic) exact in float64.
   */
  requestCreditsMax: 1_000_000_000,
  /** Plans in one plans file. */
  plansMax: 100,
  /** Allowance windows of one plan for one model family (for example 5h and 7d). */
  allowanceWindowsPerFamilyMax: 4,
  /** Longest allowance window. */
  allowanceWindowMsMax: 31 * 24 * 3_600_000,
  /** Credits of one allowance window. */
  allowanceCreditsMax: 1_000_000_000_000,
  /** Per-user requests per minute of a plan. */
  requestsPerMinuteMax: 1_000_000,
  /** Per-user concurrent requests of a plan. */
  concurrentRequestsMax: 10_000,
  /** Per-account credits per minute of a plan. */
  creditsPerMinuteMax: 1_000_000_000,
  /** Recurring plan grant per period, and its rollover cap. */
  planGrantCreditsMax: 1_000_000_000_000,
  /** Longest reservation timeout (after it a hold is released and its slot freed). */
  reservationTimeoutMsMax: 24 * 3_600_000,
  /** Longest idempotency TTL. */
  idempotencyTtlMsMax: 7 * 24 * 3_600_000,
} as const;

export type CatalogLimits = typeof catalogLimits;
