import type { PlansConfig } from '@access/catalog';
import { admissionLimits } from '@access/admission-domain';

/**
 * Named maxima of what the admission service keeps besides the domain state (whose maxima live in
 * @access/admission-domain's limits.ts). Validated at boot by validateServiceLimits.
 */
export const admissionServiceLimits = {
  /**
   * (accountId, requestId) keys remembered for idempotency. The contract asks for 24 hours; past this many entries the
   * oldest are forgotten early (metric admission_idempotency_evicted_total), so memory is bounded by configuration.
   * An entry is the key and the packed answer (answer-codec.ts): 273 bytes of heap measured (bench/idempotency), so
   * 3,000,000 entries are ~0.8 GB and cover 24 hours up to ~35 decisions/s (all partitions: every replica holds every
   * partition's entries), or the last ~50 minutes at 1,000/s. At most IDEMPOTENCY_ENTRIES_LIMIT (one V8 Map).
   */
  idempotencyEntriesMax: 3_000_000,
  /** admissionIds whose completion was already published or applied (completing twice is a no-op). */
  completedIdsMax: 1_000_000,
  /** Events buffered for the ordered restart replay (decisions, completions, ledger reservations). */
  replayEventsMax: 5_000_000,
  /** How often state that carries no information is dropped (accounts, users, expired entries). */
  maintenanceIntervalMs: 60_000,
} as const;

/** A V8 Map holds at most 2^24 entries; the idempotency entries live in one. */
export const IDEMPOTENCY_ENTRIES_LIMIT = 16_000_000;

export type AdmissionServiceLimits = { readonly [K in keyof typeof admissionServiceLimits]: number };

export function validateServiceLimits(limits: AdmissionServiceLimits): string[] {
  const problems: string[] = [];
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value <= 0) problems.push(`${name} must be a positive integer`);
  }
  if (limits.idempotencyEntriesMax > IDEMPOTENCY_ENTRIES_LIMIT) problems.push(`idempotencyEntriesMax must be at most ${IDEMPOTENCY_ENTRIES_LIMIT} (one V8 Map holds 2^24 entries)`);
  return problems;
}

/**
 * How far back a restart replays `access.admissions.v1`, `access.usage.v1` and `access.ledger.v1` so
 * that it forgets nobody's usage: the longest allowance window (plus the two buckets usage may stay
 * late), the idempotency TTL, and the longest a hold can matter (reservation timeout plus the grace a
 * completed request's hold keeps counting while the ledger lags), whichever is longest.
 */
export function replayLookbackMs(plans: PlansConfig): number {
  let longest = plans.defaults.idempotencyTtlMs;
  const holdMs = (timeoutMs: number) => timeoutMs + admissionLimits.unreflectedHoldGraceMs;
  longest = Math.max(longest, holdMs(plans.defaults.reservationTimeoutMs));
  for (const plan of plans.plans.values()) {
    longest = Math.max(longest, holdMs(plan.reservationTimeoutMs));
    for (const w of plan.allowance) {
      const bucketMs = Math.ceil(w.windowMs / admissionLimits.allowanceBucketsPerWindow);
      longest = Math.max(longest, w.windowMs + 2 * bucketMs);
    }
  }
  return longest;
}
