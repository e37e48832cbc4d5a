import { catalogLimits } from '@access/catalog';

/**
 * Named maxima of every structure admission keeps in memory, and of the inputs that size them. One
 * place, validated at boot (validateAdmissionLimits), so memory is bounded by configuration rather
 * than by traffic.
 */
export const admissionLimits = {
  /** Admitted requests still tracked (not completed, or completed with a hold the ledger has not reflected yet). */
  openAdmissionsMax: 2_000_000,
  /** Accounts with any state (balance, limits in use, holds, usage, reputation). */
  accountsMax: 1_000_000,
  /** Users with state in one account. */
  usersPerAccountMax: 100_000,
  /**
   * Fine buckets per allowance window: a window of W ms is rolled in buckets of W / 120 (2.5 minutes for
   * 5 h, 84 minutes for 7 d), so usage leaves it between W and W + 2 buckets after it happened, never early.
   */
  allowanceBucketsPerWindow: 120,
  /**
   * How long after its reservation expiry a completed request's hold still counts while the ledger has
   * not reflected it. The ledger settles a completed request instead of expiring it, so dropping the
   * hold at expiry would forget a charge the balance seen does not show yet; after this long of ledger
   * lag the record is dropped anyway, to bound memory.
   */
  unreflectedHoldGraceMs: 24 * 3_600_000,
  /** Ledger `credits_reserved` positions remembered for admissions not known yet (replay in any order). */
  earlyReservationsMax: 100_000,
  /**
   * Largest effective per-minute limit after multipliers. With costs at most catalogLimits.requestCreditsMax
   * it keeps the rate limiter's integers (limit x period, cost x period) below 2^53.
   */
  effectiveRateLimitMax: 1_000_000_000,
  /** Largest effective concurrency limit after multipliers (a user's slots are scanned on rejection). */
  effectiveConcurrencyMax: 10_000,
  /** Largest load multiplier or reputation factor accepted from load-feedback. */
  factorMax: 100,
  /** Period of the per-user requests and per-account credits limits. */
  ratePeriodMs: 60_000,
} as const;

/** The shape of admissionLimits with plain numbers, so other values can be validated too. */
export type AdmissionLimits = { readonly [K in keyof typeof admissionLimits]: number };

/** Problems with a set of limits (empty when fine): the arithmetic in gcra.ts relies on these. */
export function validateAdmissionLimits(limits: AdmissionLimits): string[] {
  const problems: string[] = [];
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value <= 0) problems.push(`${name} must be a positive integer`);
  }
  if (limits.effectiveRateLimitMax * limits.ratePeriodMs > Number.MAX_SAFE_INTEGER / 4) {
    problems.push('effectiveRateLimitMax x ratePeriodMs must stay below 2^51');
  }
  if (catalogLimits.requestCreditsMax * limits.ratePeriodMs > Number.MAX_SAFE_INTEGER / 4) {
    problems.push('requestCreditsMax x ratePeriodMs must stay below 2^51');
  }
  return problems;
}
