import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import {
  type AdmissionDecidedV1,
  admissionDecidedV1Schema,
  balanceChangedV1Schema,
  creditsAdjustedV1Schema,
  creditsGrantedV1Schema,
  limitsAdjustedV1Schema,
  loadSampledV1Schema,
  reputationChangedV1Schema,
  reservationSettledV1Schema,
  usageRequestCompletedV1Schema,
} from './events';
import { goldenEvent } from './fixtures';

/** Rules that span fields: what a consumer can rely on without the producer's state. */

type Row = { name: string; schema: z.ZodType; data: object; valid: boolean; path?: string };

function check({ schema, data, valid, path }: Row): void {
  const result = schema.safeParse(data);
  expect(result.success).toBe(valid);
  if (!result.success && path !== undefined) {
    expect(result.error.issues.map((i) => i.path.join('.'))).toContain(path);
  }
}

const admitted = (): AdmissionDecidedV1 => goldenEvent('io.access.admission.decided.v1').data;
const rejected = (reason: NonNullable<AdmissionDecidedV1['reason']>, decidedBy: AdmissionDecidedV1['decidedBy']): AdmissionDecidedV1 => ({
  ...admitted(),
  decision: 'rejected',
  reason,
  decidedBy,
  fundedBy: [],
  heldCredits: 0,
  reservationExpiresAt: null,
  retryAfterMs: reason === 'insufficient_credits' ? null : 1_500,
  availableCredits: reason === 'insufficient_credits' ? -20 : null,
});
const decision = (name: string, data: AdmissionDecidedV1, valid: boolean, path?: string): Row => ({
  name,
  schema: admissionDecidedV1Schema,
  data,
  valid,
  path,
});

const admissionRows: Row[] = [
  decision('admitted, paid by allowance and credits (golden)', admitted(), true),
  decision('admitted, paid by allowance only', {
    ...admitted(), decidedBy: 'allowance', fundedBy: [{ source: 'allowance', window: '5h', credits: 250 }],
    heldCredits: 0, reservationExpiresAt: null,
  }, true),
  decision('admitted at zero cost', { ...admitted(), estimatedCredits: 0, fundedBy: [], heldCredits: 0, reservationExpiresAt: null }, true),
  decision('rejected: rate limited', rejected('rate_limited', 'protective_limits'), true),
  decision('rejected: concurrency limited', rejected('concurrency_limited', 'protective_limits'), true),
  decision('rejected: load shed', { ...rejected('load_shed', 'load_shedding'), multipliers: { load: 0, reputation: 1 } }, true),
  decision('rejected: insufficient credits, account below zero', rejected('insufficient_credits', 'credits'), true),
  decision('admitted with a reason', { ...admitted(), reason: 'rate_limited' }, false, 'reason'),
  decision('admitted by protective limits', { ...admitted(), decidedBy: 'protective_limits' }, false, 'decidedBy'),
  decision('admitted, funding short of the estimate', { ...admitted(), estimatedCredits: 300 }, false, 'fundedBy'),
  decision('admitted, held differs from the credits part', { ...admitted(), heldCredits: 100 }, false, 'heldCredits'),
  decision('admitted, credits held but decided by allowance', { ...admitted(), decidedBy: 'allowance' }, false, 'decidedBy'),
  decision('admitted, credits held without expiry', { ...admitted(), reservationExpiresAt: null }, false, 'reservationExpiresAt'),
  decision('rejected without a reason', { ...rejected('rate_limited', 'protective_limits'), reason: null }, false, 'reason'),
  decision('rate limited, decided by credits', rejected('rate_limited', 'credits'), false, 'decidedBy'),
  decision('load shed, decided by protective limits', rejected('load_shed', 'protective_limits'), false, 'decidedBy'),
  decision('insufficient credits, decided by allowance', rejected('insufficient_credits', 'allowance'), false, 'decidedBy'),
  decision('rejected but funded', { ...rejected('rate_limited', 'protective_limits'), fundedBy: admitted().fundedBy }, false, 'fundedBy'),
  decision('rejected but holding credits', { ...rejected('rate_limited', 'protective_limits'), heldCredits: 5 }, false, 'heldCredits'),
  decision('rejected with a reservation', {
    ...rejected('load_shed', 'load_shedding'), reservationExpiresAt: '2026-11-25T10:15:00.000Z',
  }, false, 'reservationExpiresAt'),
  decision('rate limited without retryAfterMs', { ...rejected('rate_limited', 'protective_limits'), retryAfterMs: null }, false, 'retryAfterMs'),
  decision('insufficient credits without availableCredits', {
    ...rejected('insufficient_credits', 'credits'), availableCredits: null,
  }, false, 'availableCredits'),
  decision('load multiplier above 4', { ...admitted(), multipliers: { load: 4.5, reputation: 1 } }, false, 'multipliers.load'),
  decision('reputation below 0.5', { ...admitted(), multipliers: { load: 1, reputation: 0.4 } }, false, 'multipliers.reputation'),
  decision('fundedBy with an unknown source', {
    ...admitted(), fundedBy: [{ source: 'coupon', credits: 250 } as unknown as AdmissionDecidedV1['fundedBy'][number]],
  }, false, 'fundedBy.0.source'),
  decision('more fundedBy entries than allowed', {
    ...admitted(), estimatedCredits: 9, heldCredits: 0, decidedBy: 'allowance', reservationExpiresAt: null,
    fundedBy: Array.from({ length: 9 }, (_, i) => ({ source: 'allowance' as const, window: `w${i}`, credits: 1 })),
  }, false, 'fundedBy'),
];

const settled = () => goldenEvent('io.access.ledger.reservation_settled.v1').data;
const balance = () => goldenEvent('io.access.ledger.balance_changed.v1').data;
const granted = () => goldenEvent('io.access.ledger.credits_granted.v1').data;
const adjusted = () => goldenEvent('io.access.ledger.credits_adjusted.v1').data;
const completed = () => goldenEvent('io.access.usage.request_completed.v1').data;
const load = () => goldenEvent('io.access.load.sampled.v1').data;
const limits = () => goldenEvent('io.access.limits.adjusted.v1').data;
const reputation = () => goldenEvent('io.access.reputation.changed.v1').data;

const ledgerRows: Row[] = [
  { name: 'settled below the hold releases the rest', schema: reservationSettledV1Schema, data: settled(), valid: true },
  { name: 'settled above the hold records the overshoot', schema: reservationSettledV1Schema,
    data: { ...settled(), actualCredits: 180, releasedCredits: 0, overshootCredits: 30 }, valid: true },
  { name: 'settled at zero (failed, nothing metered) releases everything', schema: reservationSettledV1Schema,
    data: { ...settled(), actualCredits: 0, releasedCredits: 150, draws: [] }, valid: true },
  { name: 'settled with a wrong release', schema: reservationSettledV1Schema,
    data: { ...settled(), releasedCredits: 40 }, valid: false, path: 'releasedCredits' },
  { name: 'settled above the hold without overshoot', schema: reservationSettledV1Schema,
    data: { ...settled(), actualCredits: 180, releasedCredits: 0 }, valid: false, path: 'overshootCredits' },
  { name: 'settled with both release and overshoot', schema: reservationSettledV1Schema,
    data: { ...settled(), overshootCredits: 10 }, valid: false, path: 'overshootCredits' },
  { name: 'balance below zero', schema: balanceChangedV1Schema,
    data: { ...balance(), balanceCredits: -30, heldCredits: 0, availableCredits: -30 }, valid: true },
  { name: 'balance without a plan', schema: balanceChangedV1Schema, data: { ...balance(), plan: null }, valid: true },
  { name: 'available not balance minus held', schema: balanceChangedV1Schema,
    data: { ...balance(), heldCredits: 100 }, valid: false, path: 'availableCredits' },
  { name: 'balance at version 0', schema: balanceChangedV1Schema, data: { ...balance(), version: 0 }, valid: false, path: 'version' },
  { name: 'grant that never expires', schema: creditsGrantedV1Schema, data: { ...granted(), expiresAt: null }, valid: true },
  { name: 'grant with negative priority', schema: creditsGrantedV1Schema, data: { ...granted(), priority: -1 }, valid: true },
  { name: 'grant of zero credits', schema: creditsGrantedV1Schema, data: { ...granted(), credits: 0 }, valid: false, path: 'credits' },
  { name: 'grant expiring when it takes effect', schema: creditsGrantedV1Schema,
    data: { ...granted(), expiresAt: granted().effectiveAt }, valid: false, path: 'expiresAt' },
  { name: 'grant from an unknown source', schema: creditsGrantedV1Schema, data: { ...granted(), source: 'gift' }, valid: false, path: 'source' },
  { name: 'grant at version 0', schema: creditsGrantedV1Schema, data: { ...granted(), version: 0 }, valid: false, path: 'version' },
  { name: 'positive adjustment', schema: creditsAdjustedV1Schema, data: { ...adjusted(), credits: 500 }, valid: true },
  { name: 'zero adjustment', schema: creditsAdjustedV1Schema, data: { ...adjusted(), credits: 0 }, valid: false, path: 'credits' },
  { name: 'adjustment without a reason', schema: creditsAdjustedV1Schema, data: { ...adjusted(), reason: '' }, valid: false, path: 'reason' },
  { name: 'adjustment with a 501-character reason', schema: creditsAdjustedV1Schema,
    data: { ...adjusted(), reason: 'x'.repeat(501) }, valid: false, path: 'reason' },
];

const otherRows: Row[] = [
  { name: 'failed request with zero meters', schema: usageRequestCompletedV1Schema,
    data: { ...completed(), status: 'failed', meters: {} }, valid: true },
  { name: 'completion ending before it started', schema: usageRequestCompletedV1Schema,
    data: { ...completed(), endedAt: '2026-11-25T10:00:00.499Z' }, valid: false, path: 'endedAt' },
  { name: 'completion with an unknown status', schema: usageRequestCompletedV1Schema,
    data: { ...completed(), status: 'timeout' }, valid: false, path: 'status' },
  { name: 'completion with fractional durationMs', schema: usageRequestCompletedV1Schema,
    data: { ...completed(), durationMs: 1.5 }, valid: false, path: 'durationMs' },
  { name: 'completion with negative gpuSeconds', schema: usageRequestCompletedV1Schema,
    data: { ...completed(), gpuSeconds: -1 }, valid: false, path: 'gpuSeconds' },
  { name: 'overloaded fleet (utilization 1.5)', schema: loadSampledV1Schema, data: { ...load(), utilization: 1.5 }, valid: true },
  { name: 'heavily overloaded fleet (utilization 7)', schema: loadSampledV1Schema, data: { ...load(), utilization: 7 }, valid: true },
  { name: 'negative utilization', schema: loadSampledV1Schema, data: { ...load(), utilization: -0.01 }, valid: false, path: 'utilization' },
  { name: 'zero capacity', schema: loadSampledV1Schema, data: { ...load(), capacityCreditsPerSecond: 0 }, valid: false, path: 'capacityCreditsPerSecond' },
  { name: 'negative queue depth', schema: loadSampledV1Schema, data: { ...load(), queueDepth: -1 }, valid: false, path: 'queueDepth' },
  { name: 'shedding multiplier 0', schema: limitsAdjustedV1Schema, data: { ...limits(), multiplier: 0 }, valid: true },
  { name: 'multiplier above 4', schema: limitsAdjustedV1Schema, data: { ...limits(), multiplier: 4.01 }, valid: false, path: 'multiplier' },
  { name: 'reputation factor 1.5', schema: reputationChangedV1Schema, data: { ...reputation(), factor: 1.5 }, valid: true },
  { name: 'reputation factor above 1.5', schema: reputationChangedV1Schema, data: { ...reputation(), factor: 1.6 }, valid: false, path: 'factor' },
];

describe.each([
  ['admission.decided', admissionRows],
  ['ledger events', ledgerRows],
  ['usage, load and feedback events', otherRows],
])('%s', (_group, rows) => {
  it.each(rows)('given $name, then valid is $valid', (row) => check(row));
});
