/**
 * What the ledger makes of the messages it consumes (pure: no I/O, time is an input):
 *
 * - an admitted decision with a credits part (`heldCredits > 0`) becomes a `reserve` of that part, until the
 *   decision's `reservationExpiresAt`; its allowance part, if any, is remembered (`AllowanceRecord`);
 * - an admitted decision paid by allowance alone is only remembered; a rejected decision changes nothing;
 * - a completion is priced from its meters with the price book, and what the allowance did not pay is settled.
 *   A failed or cancelled request with nothing to charge voids its hold. Without a hold it is settled at its
 *   cost directly (a completion that overtook its decision), so that the late decision changes nothing.
 */
import type { AdmissionDecidedV1, AnyAccessEvent, UsageRequestCompletedV1 } from '@access/contracts';
import { EVENTS } from '@access/contracts';
import { priceRequest, type PriceBook } from '@access/catalog';
import type { CreditAccountCommand, CreditAccountState } from '@access/credit-ledger-domain';
import type { AllowanceRecord } from './commands';

export type Intake =
  | {
      readonly kind: 'reserve';
      readonly accountId: string;
      readonly admissionId: string;
      readonly requestId: string;
      readonly credits: number;
      readonly expiresAt: string;
      readonly allowance: AllowanceRecord | null;
    }
  | { readonly kind: 'allowance'; readonly accountId: string; readonly allowance: AllowanceRecord }
  | {
      readonly kind: 'complete';
      readonly accountId: string;
      readonly admissionId: string;
      readonly requestId: string;
      readonly status: UsageRequestCompletedV1['status'];
      /** The request's whole cost by the price book, before its allowance part. */
      readonly costCredits: number;
    }
  | { readonly kind: 'ignore'; readonly reason: string }
  /** A valid message the ledger cannot apply (e.g. a meter the price book does not know): dead-lettered. */
  | { readonly kind: 'invalid'; readonly reason: string };

export function intakeOf(event: AnyAccessEvent, priceBook: PriceBook): Intake {
  switch (event.type) {
    case EVENTS.admissionDecided:
      return decisionIntake(event.data);
    case EVENTS.usageRequestCompleted:
      return completionIntake(event.data, priceBook);
    default:
      return { kind: 'invalid', reason: `the ledger does not consume ${event.type}` };
  }
}

function decisionIntake(d: AdmissionDecidedV1): Intake {
  if (d.decision !== 'admitted') return { kind: 'ignore', reason: `rejected (${d.reason ?? 'no reason'})` };
  const allowanceCredits = d.fundedBy.reduce((sum, f) => (f.source === 'allowance' ? sum + f.credits : sum), 0);
  const allowance: AllowanceRecord | null =
    allowanceCredits > 0 ? { admissionId: d.admissionId, accountId: d.accountId, allowanceCredits, decidedAt: d.decidedAt } : null;
  if (d.heldCredits > 0) {
    // The contract guarantees reservationExpiresAt with a credits part; a null here is a broken producer.
    if (d.reservationExpiresAt === null) return { kind: 'invalid', reason: 'heldCredits > 0 without reservationExpiresAt' };
    return {
      kind: 'reserve',
      accountId: d.accountId,
      admissionId: d.admissionId,
      requestId: d.requestId,
      credits: d.heldCredits,
      expiresAt: d.reservationExpiresAt,
      allowance,
    };
  }
  return allowance === null ? { kind: 'ignore', reason: 'admitted without cost' } : { kind: 'allowance', accountId: d.accountId, allowance };
}

function completionIntake(d: UsageRequestCompletedV1, priceBook: PriceBook): Intake {
  // Nothing metered costs nothing, whatever the dimensions say (a request that failed before it started
  // may not report them).
  const metered = Object.values(d.meters).some((q) => q > 0);
  let costCredits = 0;
  if (metered) {
    const priced = priceRequest(priceBook, d.model, d.meters, d.dimensions);
    if (!priced.ok) return { kind: 'invalid', reason: `cannot price the completion: ${priced.error.path}: ${priced.error.message}` };
    costCredits = priced.credits;
  }
  return { kind: 'complete', accountId: d.accountId, admissionId: d.admissionId, requestId: d.requestId, status: d.status, costCredits };
}

/** The reserve command of a decision. */
export function reserveCommand(intake: Extract<Intake, { kind: 'reserve' }>, now: string): CreditAccountCommand {
  return {
    type: 'reserve',
    data: { admissionId: intake.admissionId, requestId: intake.requestId, credits: intake.credits, expiresAt: intake.expiresAt },
    metadata: { now },
  };
}

/**
 * The command of a completion, decided against the account's state. `allowanceCredits` is the allowance part of
 * its decision when the ledger has seen the decision with one (undefined otherwise).
 */
export function completionCommand(
  intake: Extract<Intake, { kind: 'complete' }>,
  allowanceCredits: number | undefined,
  now: string,
): (state: CreditAccountState) => CreditAccountCommand | null {
  const chargeCredits = Math.max(0, intake.costCredits - (allowanceCredits ?? 0));
  return (state) => {
    const hold = state.reservations.get(intake.admissionId);
    if (chargeCredits === 0 && intake.status !== 'succeeded' && hold !== undefined && hold.requestId === intake.requestId) {
      return { type: 'void', data: { admissionId: intake.admissionId, reason: intake.status }, metadata: { now } };
    }
    // A copy of a completion that was charged its whole cost before its decision (and allowance part) arrived:
    // it is the same charge, so it restates the recorded amount and changes nothing. Priced net now, it
    // would look like a second completion with another cost.
    const settled = state.resolved.get(intake.admissionId);
    const chargedGross =
      settled?.resolution === 'settled' &&
      settled.event.data.requestId === intake.requestId &&
      settled.event.data.heldCredits === 0 &&
      settled.event.data.actualCredits === intake.costCredits;
    // The allowance paid for all of it and no credits were held: nothing for the ledger to record.
    if (!chargedGross && chargeCredits === 0 && allowanceCredits !== undefined && hold === undefined) return null;
    return {
      type: 'settle',
      data: { admissionId: intake.admissionId, requestId: intake.requestId, actualCredits: chargedGross ? intake.costCredits : chargeCredits },
      metadata: { now },
    };
  };
}

/**
 * The correction for a decision with an allowance part that reached the ledger after its completion: the
 * completion, with no decision known, was charged its whole cost directly; the allowance had paid
 * `allowanceCredits` of it. The ledger gives that part back as an adjustment, idempotent by
 * `allowance:<admissionId>`. Only for a decision seen for the first time (a redelivered decision must not
 * refund a completion that was charged net of the allowance already).
 */
export function lateAllowanceRefund(
  admissionId: string,
  allowanceCredits: number,
  now: string,
): (state: CreditAccountState) => CreditAccountCommand | null {
  return (state) => {
    const resolved = state.resolved.get(admissionId);
    if (resolved?.resolution !== 'settled' || resolved.event.data.heldCredits !== 0) return null;
    const refund = Math.min(resolved.event.data.actualCredits, allowanceCredits);
    if (refund <= 0) return null;
    return {
      type: 'adjust',
      data: { adjustmentId: `allowance:${admissionId}`, credits: refund, reason: `allowance part of admission ${admissionId}, charged before its decision arrived` },
      metadata: { now },
    };
  };
}
