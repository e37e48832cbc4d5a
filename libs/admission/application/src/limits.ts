import type { PlansConfig } from '@access/catalog';
import { admissionLimits } from '@access/admission-domain';

/**
 * Named maxima of what the admission service keeps besides the domain state (whose maxima live in
 * @access/admission-domain's limits.ts). Validated at boot by validateServiceLimits.
 */
export const admissionServiceLimits = {
  /**
   * requestIds remembered for idempotency. The contract asks for 24 hours; past this many entries the
   * oldest are forgotten early (and counted in a metric), so memory is bounded by configuration. An
   * entry keeps the first admitted decision (about 1.5 KB of heap), so 300,000 entries are ~450 MB:
   * 24 hours are covered up to ~3.5 admitted requests per second per instance. Beyond that, a store
   * that keeps only (requestId, fingerprint, Kafka offset) per entry is the next step.
   */
  idempotencyEntriesMax: 300_000,
  /** admissionIds whose completion was already published or applied (completing twice is a no-op). */
  completedIdsMax: 1_000_000,
  /** Events buffered for the ordered restart replay (decisions, completions, ledger reservations). */
  replayEventsMax: 5_000_000,
  /** How often state that carries no information is dropped (accounts, users, expired entries). */
  maintenanceIntervalMs: 60_000,
} as const;

export type AdmissionServiceLimits = { readonly [K in keyof typeof admissionServiceLimits]: number };

export function validateServiceLimits(limits: AdmissionServiceLimits): string[] {
  const problems: string[] = [];
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value <= 0) problems.push(`${name} must be a positive integer`);
  }
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
