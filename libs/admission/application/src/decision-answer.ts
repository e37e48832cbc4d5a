import type { AdmissionDecidedV1 } from '@access/contracts';

/**
 * What the HTTP answer to a decision is made of (render.ts), and all that idempotency keeps of a decision: the
 * `admission.decided` event minus what the request itself says (accountId, userId, model, endpoint, priority,
 * estimate: equal on a replay, whose fingerprint matched) and minus decisionLatencyUs (never in the answer).
 */
export type DecisionAnswer = Pick<
  AdmissionDecidedV1,
  | 'admissionId'
  | 'requestId'
  | 'plan'
  | 'decision'
  | 'reason'
  | 'decidedBy'
  | 'estimatedCredits'
  | 'fundedBy'
  | 'heldCredits'
  | 'reservationExpiresAt'
  | 'limits'
  | 'multipliers'
  | 'priceBookVersion'
  | 'retryAfterMs'
  | 'availableCredits'
  | 'decidedAt'
>;
