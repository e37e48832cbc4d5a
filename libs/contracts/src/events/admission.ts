import { z } from 'zod';
import { contractLimits } from '../limits';
import {
  creditsSchema,
  dimensionsSchema,
  idSchema,
  isoTimeSchema,
  loadMultiplierSchema,
  metersSchema,
  nonNegativeCreditsSchema,
  prioritySchema,
  reputationFactorSchema,
  uuidv7Schema,
} from '../primitives';

export const rejectionReasonSchema = z.enum([
  'rate_limited',
  'concurrency_limited',
  'load_shed',
  'insufficient_credits',
]);
export type RejectionReason = z.infer<typeof rejectionReasonSchema>;

/** The waterfall layer that decided. */
export const decisionLayerSchema = z.enum(['protective_limits', 'load_shedding', 'allowance', 'credits']);
export type DecisionLayer = z.infer<typeof decisionLayerSchema>;

/** Which layer must have decided a rejection with this reason; the answer to "why was I blocked?" must agree. */
export const layerOfRejection = {
  rate_limited: 'protective_limits',
  concurrency_limited: 'protective_limits',
  load_shed: 'load_shedding',
  insufficient_credits: 'credits',
} as const satisfies Record<RejectionReason, DecisionLayer>;

export const fundingSchema = z.discriminatedUnion('source', [
  z.object({ source: z.literal('allowance'), window: z.string().min(1).max(64), credits: nonNegativeCreditsSchema }),
  z.object({ source: z.literal('credits'), credits: nonNegativeCreditsSchema }),
]);
export type Funding = z.infer<typeof fundingSchema>;

export const appliedLimitSchema = z.object({
  name: z.string().min(1).max(contractLimits.limitNameLengthMax),
  limit: z.number().min(0),
  remaining: z.number().min(0),
  resetMs: z.int().min(0),
});
export type AppliedLimit = z.infer<typeof appliedLimitSchema>;

/**
 * `admission.decided`: one per decision, admitted or rejected. Besides field types, the decision must be
 * self-consistent, because analysts and the ledger read it without the admission service's state:
 * - admitted ⇔ `reason` null; a rejection's `decidedBy` is the layer of its reason (`layerOfRejection`);
 *   an admission is decided by `allowance` or `credits` (`credits` whenever credits are held);
 * - admitted: Σ `fundedBy.credits` = `estimatedCredits`, `heldCredits` = the credits part, and a hold has
 *   a `reservationExpiresAt`; rejected: no funding, nothing held, no reservation;
 * - 429 reasons carry `retryAfterMs`; `insufficient_credits` carries `availableCredits`.
 */
export const admissionDecidedV1Schema = z
  .object({
    admissionId: uuidv7Schema,
    requestId: idSchema,
    accountId: idSchema,
    userId: idSchema,
    model: idSchema,
    endpoint: idSchema,
    priority: prioritySchema,
    plan: idSchema,
    decision: z.enum(['admitted', 'rejected']),
    reason: rejectionReasonSchema.nullable(),
    decidedBy: decisionLayerSchema,
    estimatedCredits: nonNegativeCreditsSchema,
    fundedBy: z.array(fundingSchema).max(contractLimits.fundedByMax),
    heldCredits: nonNegativeCreditsSchema,
    reservationExpiresAt: isoTimeSchema.nullable(),
    limits: z.array(appliedLimitSchema).max(contractLimits.limitsAppliedMax),
    multipliers: z.object({ load: loadMultiplierSchema, reputation: reputationFactorSchema }),
    priceBookVersion: z.string().min(1).max(128),
    estimate: z.object({ meters: metersSchema, dimensions: dimensionsSchema }),
    retryAfterMs: z.int().min(0).nullable(),
    /** May be negative: an account can be below zero by the overshoot of requests already admitted. */
    availableCredits: creditsSchema.nullable(),
    decisionLatencyUs: z.number().min(0),
    decidedAt: isoTimeSchema,
  })
  .superRefine((d, ctx) => {
    const fail = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
    if (d.decision === 'admitted') {
      if (d.reason !== null) fail('reason', 'must be null when admitted');
      if (d.decidedBy !== 'allowance' && d.decidedBy !== 'credits') {
        fail('decidedBy', 'an admission is decided by "allowance" or "credits"');
      }
      const funded = d.fundedBy.reduce((sum, f) => sum + f.credits, 0);
      if (funded !== d.estimatedCredits) fail('fundedBy', `funds ${funded} credits, estimatedCredits is ${d.estimatedCredits}`);
      const fromCredits = d.fundedBy.reduce((sum, f) => sum + (f.source === 'credits' ? f.credits : 0), 0);
      if (d.heldCredits !== fromCredits) fail('heldCredits', `must equal the credits part of fundedBy (${fromCredits})`);
      if (d.heldCredits > 0 && d.decidedBy !== 'credits') fail('decidedBy', 'must be "credits" when credits are held');
      if (d.heldCredits > 0 && d.reservationExpiresAt === null) fail('reservationExpiresAt', 'required when credits are held');
      return;
    }
    if (d.reason === null) {
      fail('reason', 'required when rejected');
      return;
    }
    if (d.decidedBy !== layerOfRejection[d.reason]) fail('decidedBy', `must be "${layerOfRejection[d.reason]}" for ${d.reason}`);
    if (d.fundedBy.length > 0) fail('fundedBy', 'must be empty when rejected');
    if (d.heldCredits !== 0) fail('heldCredits', 'must be 0 when rejected');
    if (d.reservationExpiresAt !== null) fail('reservationExpiresAt', 'must be null when rejected');
    if (d.reason === 'insufficient_credits') {
      if (d.availableCredits === null) fail('availableCredits', 'required for insufficient_credits');
    } else if (d.retryAfterMs === null) {
      fail('retryAfterMs', `required for ${d.reason}`);
    }
  });
export type AdmissionDecidedV1 = z.infer<typeof admissionDecidedV1Schema>;
