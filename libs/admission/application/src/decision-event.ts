import type { Decision, ReplayableDecision } from '@access/admission-domain';
import type { AdmissionDecidedV1, Dimensions, Meters } from '@access/contracts';

/**
 * The `admission.decided` data of a decision, field by field. Built directly rather than through
 * `makeEvent`'s zod validation: this runs once per request on the hot path, and decision-event.spec.ts
 * checks every branch of the waterfall (property-based) against the contract schema instead.
 */
export function decidedEventData(
  decision: Decision,
  estimate: { readonly meters: Meters; readonly dimensions: Dimensions },
  decisionLatencyUs: number,
): AdmissionDecidedV1 {
  const decidedAt = new Date(decision.decidedAtMs).toISOString();
  return {
    admissionId: decision.admissionId,
    requestId: decision.requestId,
    accountId: decision.accountId,
    userId: decision.userId,
    model: decision.model,
    endpoint: decision.endpoint,
    priority: decision.priority,
    plan: decision.plan,
    decision: decision.decision,
    reason: decision.reason,
    decidedBy: decision.decidedBy,
    estimatedCredits: decision.estimatedCredits,
    // The event is never mutated after it is built; the contract's types are merely not readonly.
    fundedBy: decision.fundedBy as AdmissionDecidedV1['fundedBy'],
    heldCredits: decision.heldCredits,
    reservationExpiresAt: decision.reservationExpiresAtMs === null ? null : new Date(decision.reservationExpiresAtMs).toISOString(),
    limits: decision.limits as AdmissionDecidedV1['limits'],
    multipliers: decision.multipliers,
    priceBookVersion: decision.priceBookVersion,
    estimate: estimate as AdmissionDecidedV1['estimate'],
    retryAfterMs: decision.retryAfterMs,
    availableCredits: decision.availableCredits,
    decisionLatencyUs,
    decidedAt,
  };
}

/** What the domain's replayDecision needs from a past `admission.decided` event. */
export function replayableOf(data: AdmissionDecidedV1): ReplayableDecision {
  return {
    decision: data.decision,
    admissionId: data.admissionId,
    accountId: data.accountId,
    userId: data.userId,
    model: data.model,
    priority: data.priority,
    plan: data.plan,
    estimatedCredits: data.estimatedCredits,
    fundedBy: data.fundedBy,
    heldCredits: data.heldCredits,
    reservationExpiresAtMs: data.reservationExpiresAt === null ? null : Date.parse(data.reservationExpiresAt),
    decidedAtMs: Date.parse(data.decidedAt),
  };
}
