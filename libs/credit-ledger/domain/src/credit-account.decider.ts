/**
 * The credit account decider (Emmett style): `decide(command, state)` returns what happened as a value,
 * with the events to append; `evolve` folds them. It is pure: time comes in the command, ids are the
 * callers', nothing is read from the outside.
 *
 * How `decide` works: it builds the events one at a time and folds each into a working copy of the
 * state with `evolve` before computing the next, so that every event is computed against exactly the
 * state a replay will see. Every accepted command first records what time has made due (expired
 * reservations and grants, README "Time"), so no command ever draws on a grant past its expiry.
 */
import { compareBurnOrder, drawInBurnOrder } from './burn-order';
import type { Draw } from './credit-account.events';
import { grantSources } from './credit-account.events';
import type { Adjust, ChangePlan, CreditAccountCommand, Grant, GrantPlanPeriod, OpenAccount, Reserve, Settle, Void } from './credit-account.commands';
import { defaultPriorityBySource, planPeriodGrantId } from './credit-account.commands';
import { conflict, exists, rejected, type DecideResult } from './credit-account.outcomes';
import type { CreditAccountState, OpenReservation } from './credit-account.state';
import { availableCredits, grantRecord } from './credit-account.state';
import { Transaction } from './credit-account.transaction';
import { isCredits, isId, isPositiveCredits, isText, ledgerLimits } from './limits';
import { formatInstant, parseInstant } from './time';

export type { DecideResult, Rejection, ReserveReport } from './credit-account.outcomes';


export function decide(command: CreditAccountCommand, state: CreditAccountState): DecideResult {
  const nowMs = parseInstant(command.metadata.now);
  if (nowMs === null) return rejected('invalid_time', `now is not an ISO-8601 instant: ${command.metadata.now}`);
  if (command.type !== 'openAccount' && state.status !== 'open') {
    return rejected('account_not_open', 'the account has not been opened');
  }
  // Ledger time never moves back: a command stamped earlier than the last event is decided (and
  // recorded) at the last event's time, so an expiry once recorded is never contradicted.
  const atMs = Math.max(nowMs, state.clockMs ?? nowMs);
  const tx = new Transaction(state);
  tx.recordDue(atMs);

  switch (command.type) {
    case 'openAccount':
      return openAccount(tx, command);
    case 'changePlan':
      return changePlan(tx, command);
    case 'grant':
      return grant(tx, command);
    case 'reserve':
      return reserve(tx, command);
    case 'settle':
      return settle(tx, command);
    case 'void':
      return voidReservation(tx, command);
    case 'expireDue':
      return tx.accepted();
    case 'adjust':
      return adjust(tx, command);
    case 'grantPlanPeriod':
      return grantPlanPeriod(tx, command);
    default: {
      const _exhaustive: never = command;
      return _exhaustive;
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Commands

function openAccount(tx: Transaction, { data }: OpenAccount): DecideResult {
  if (!isId(data.plan)) return rejected('invalid_id', 'plan must be an identifier');
  const { state } = tx;
  if (state.status === 'open' && state.planEvent !== null) {
    return state.plan === data.plan
      ? exists(state.planEvent)
      : conflict(state.planEvent, `the account is already open on plan ${state.plan ?? ''}; use changePlan`);
  }
  tx.emit({ type: 'account_opened', occurredAt: tx.at, data: { plan: data.plan } });
  return tx.accepted();
}

function changePlan(tx: Transaction, { data }: ChangePlan): DecideResult {
  if (!isId(data.plan)) return rejected('invalid_id', 'plan must be an identifier');
  const { state } = tx;
  if (state.plan === data.plan && state.planEvent !== null) return exists(state.planEvent);
  tx.emit({ type: 'plan_changed', occurredAt: tx.at, data: { plan: data.plan, previousPlan: state.plan ?? '' } });
  return tx.accepted();
}

function grant(tx: Transaction, { data }: Grant): DecideResult {
  if (!isId(data.grantId)) return rejected('invalid_id', 'grantId must be an identifier');
  if (!isPositiveCredits(data.credits)) return rejected('invalid_amount', `credits must be a whole number in 1..${ledgerLimits.creditsPerCommandMax}`);
  if (!grantSources.includes(data.source)) return rejected('invalid_source', `source must be one of ${grantSources.join(', ')}`);
  const priority = data.priority ?? defaultPriorityBySource[data.source];
  if (!Number.isSafeInteger(priority) || priority < 0 || priority > ledgerLimits.priorityMax) {
    return rejected('invalid_priority', `priority must be a whole number in 0..${ledgerLimits.priorityMax}`);
  }
  const effectiveAtMs = data.effectiveAt === undefined ? undefined : parseInstant(data.effectiveAt);
  if (effectiveAtMs === null) return rejected('invalid_time', 'effectiveAt is not an ISO-8601 instant');
  const expiresAtMs = data.expiresAt === undefined || data.expiresAt === null ? null : parseInstant(data.expiresAt);
  if (expiresAtMs === null && data.expiresAt !== undefined && data.expiresAt !== null) {
    return rejected('invalid_time', 'expiresAt is not an ISO-8601 instant');
  }

  // Idempotency comes before the checks against the clock: a retry that arrives after the grant's
  // expiry must still answer "exists", not "invalid".
  const recorded = grantRecord(tx.state, data.grantId);
  if (recorded !== undefined) {
    const r = recorded.data;
    const sameEffectiveAt =
      effectiveAtMs === undefined
        ? // An omitted effectiveAt means "now"; it matches a grant that was effective when recorded.
          (parseInstant(r.effectiveAt) ?? 0) <= (parseInstant(recorded.occurredAt) ?? 0)
        : parseInstant(r.effectiveAt) === effectiveAtMs;
    const same =
      r.planPeriod === null &&
      r.credits === data.credits &&
      r.source === data.source &&
      r.priority === priority &&
      sameEffectiveAt &&
      (r.expiresAt === null ? null : parseInstant(r.expiresAt)) === expiresAtMs;
    return same ? exists(recorded) : conflict(recorded, `grant ${data.grantId} was recorded with another body`);
  }

  const effectiveMs = effectiveAtMs ?? tx.atMs;
  if (expiresAtMs !== null && (expiresAtMs <= effectiveMs || expiresAtMs <= tx.atMs)) {
    return rejected('invalid_time', 'expiresAt must be later than both effectiveAt and now');
  }
  if (tx.state.grants.size >= ledgerLimits.liveGrantsMax) {
    return rejected('limit_exceeded', `an account holds at most ${ledgerLimits.liveGrantsMax} live grants`);
  }
  tx.emit({
    type: 'credits_granted',
    occurredAt: tx.at,
    data: {
      grantId: data.grantId,
      credits: data.credits,
      source: data.source,
      priority,
      effectiveAt: formatInstant(effectiveMs),
      expiresAt: expiresAtMs === null ? null : formatInstant(expiresAtMs),
      planPeriod: null,
    },
  });
  return tx.accepted();
}

function grantPlanPeriod(tx: Transaction, { data }: GrantPlanPeriod): DecideResult {
  const grantId = planPeriodGrantId(data.planId, data.periodKey);
  if (!isId(data.planId) || !isId(data.periodKey) || !isId(grantId)) {
    return rejected('invalid_id', 'planId and periodKey must be identifiers, and so must plan:<planId>:<periodKey>');
  }
  if (!isPositiveCredits(data.credits)) return rejected('invalid_amount', `credits must be a whole number in 1..${ledgerLimits.creditsPerCommandMax}`);
  if (!isCredits(data.rolloverCapCredits)) return rejected('invalid_amount', 'rolloverCapCredits must be a whole number, 0 or more');
  const expiresAtMs = data.expiresAt === null ? null : parseInstant(data.expiresAt);
  if (expiresAtMs === null && data.expiresAt !== null) return rejected('invalid_time', 'expiresAt is not an ISO-8601 instant');

  const recorded = grantRecord(tx.state, grantId);
  if (recorded !== undefined) {
    const r = recorded.data;
    const same =
      r.planPeriod !== null &&
      r.planPeriod.planId === data.planId &&
      r.planPeriod.periodKey === data.periodKey &&
      r.planPeriod.rolloverCapCredits === data.rolloverCapCredits &&
      r.credits === data.credits &&
      (r.expiresAt === null ? null : parseInstant(r.expiresAt)) === expiresAtMs;
    return same ? exists(recorded) : conflict(recorded, `plan period ${data.periodKey} was granted with another body`);
  }
  if (expiresAtMs !== null && expiresAtMs <= tx.atMs) return rejected('invalid_time', 'expiresAt must be later than now');
  if (tx.state.grants.size >= ledgerLimits.liveGrantsMax) {
    return rejected('limit_exceeded', `an account holds at most ${ledgerLimits.liveGrantsMax} live grants`);
  }

  // Rollover: the plan credits still left from earlier periods are capped at rolloverCapCredits;
  // the excess is forfeited, first from the grants that would burn first (those closest to expiring),
  // so what rolls over is what lasts longest. Credits an open hold keeps are never forfeited here.
  const earlierPlanGrants = [...tx.state.grants.values()].filter((g) => g.source === 'plan' && g.active).sort(compareBurnOrder);
  let excess = earlierPlanGrants.reduce((sum, g) => sum + g.remainingCredits, 0) - data.rolloverCapCredits;
  for (const earlier of earlierPlanGrants) {
    if (excess <= 0) break;
    const cut = Math.min(excess, earlier.remainingCredits - earlier.heldCredits);
    if (cut <= 0) continue;
    tx.forfeit(earlier.grantId, cut, 'rolled_over');
    excess -= cut;
  }
  tx.emit({
    type: 'credits_granted',
    occurredAt: tx.at,
    data: {
      grantId,
      credits: data.credits,
      source: 'plan',
      priority: defaultPriorityBySource.plan,
      effectiveAt: tx.at,
      expiresAt: expiresAtMs === null ? null : formatInstant(expiresAtMs),
      planPeriod: { planId: data.planId, periodKey: data.periodKey, rolloverCapCredits: data.rolloverCapCredits },
    },
  });
  return tx.accepted();
}

function reserve(tx: Transaction, { data }: Reserve): DecideResult {
  if (!isId(data.admissionId) || !isId(data.requestId)) return rejected('invalid_id', 'admissionId and requestId must be identifiers');
  if (!isPositiveCredits(data.credits)) return rejected('invalid_amount', `credits must be a whole number in 1..${ledgerLimits.creditsPerCommandMax}`);
  const expiresAtMs = parseInstant(data.expiresAt);
  if (expiresAtMs === null) return rejected('invalid_time', 'expiresAt is not an ISO-8601 instant');

  const open = tx.state.reservations.get(data.admissionId);
  if (open !== undefined) {
    const same = open.requestId === data.requestId && open.credits === data.credits && open.expiresAtMs === expiresAtMs;
    return same ? exists(open.reserved) : conflict(open.reserved, `admission ${data.admissionId} was reserved with another body`);
  }
  const resolved = tx.state.resolved.get(data.admissionId);
  if (resolved !== undefined) {
    // A decision that arrives after its completion (or is redelivered after its hold ended) must not hold again.
    return { kind: 'already_resolved', events: [], resolution: resolved.resolution, first: resolved.event };
  }
  if (tx.state.reservations.size >= ledgerLimits.openReservationsMax) {
    return rejected('limit_exceeded', `an account holds at most ${ledgerLimits.openReservationsMax} open reservations`);
  }

  // Admission is the authority on admission: the request already runs, so the ledger records the
  // whole hold even when the grants or the available credits cannot cover it (README, "Holds").
  const availableBeforeCredits = availableCredits(tx.state);
  const { draws, uncoveredCredits } = drawInBurnOrder(tx.drawableGrants(), data.credits);
  const shortfallCredits = Math.max(0, data.credits - Math.max(0, availableBeforeCredits));
  tx.emit({
    type: 'credits_reserved',
    occurredAt: tx.at,
    data: {
      admissionId: data.admissionId,
      requestId: data.requestId,
      credits: data.credits,
      draws,
      shortfallCredits,
      expiresAt: formatInstant(expiresAtMs),
    },
  });
  // A decision that reaches the ledger after its own hold ran out is recorded and expired at once, so a
  // completion still settles it exactly once and a redelivered decision does not hold again.
  if (expiresAtMs <= tx.atMs) tx.recordDue(tx.atMs);
  const result = tx.accepted();
  return result.kind === 'accepted'
    ? { ...result, reserve: { availableBeforeCredits, shortfallCredits, uncoveredByGrantsCredits: uncoveredCredits } }
    : result;
}

function settle(tx: Transaction, { data }: Settle): DecideResult {
  if (!isId(data.admissionId) || !isId(data.requestId)) return rejected('invalid_id', 'admissionId and requestId must be identifiers');
  if (!isCredits(data.actualCredits)) {
    return rejected('invalid_amount', `actualCredits must be a whole number in 0..${ledgerLimits.creditsPerCommandMax}`);
  }
  const open = tx.state.reservations.get(data.admissionId);
  if (open !== undefined) {
    if (open.requestId !== data.requestId) {
      return conflict(open.reserved, `admission ${data.admissionId} belongs to request ${open.requestId}`);
    }
    settleHold(tx, open, data.actualCredits);
    return tx.accepted();
  }
  const resolved = tx.state.resolved.get(data.admissionId);
  if (resolved !== undefined) {
    switch (resolved.resolution) {
      case 'settled': {
        const first = resolved.event.data;
        return first.requestId === data.requestId && first.actualCredits === data.actualCredits
          ? exists(resolved.event)
          : conflict(resolved.event, `admission ${data.admissionId} was settled for ${first.actualCredits} credits`);
      }
      case 'voided':
        // A void means the caller gave the request up; a completion after it is not charged.
        return { kind: 'already_resolved', events: [], resolution: 'voided', first: resolved.event };
      case 'expired':
        // The hold ran out, but the work ran: charge what it cost, directly.
        break;
      default: {
        const _exhaustive: never = resolved;
        return _exhaustive;
      }
    }
  }
  // No hold (the completion arrived before its decision, or after the hold expired): charge directly.
  const { draws } = drawInBurnOrder(tx.drawableGrants(), data.actualCredits);
  tx.emit({
    type: 'reservation_settled',
    occurredAt: tx.at,
    data: {
      admissionId: data.admissionId,
      requestId: data.requestId,
      heldCredits: 0,
      actualCredits: data.actualCredits,
      releasedCredits: 0,
      overshootCredits: data.actualCredits,
      draws,
    },
  });
  return tx.accepted();
}

/**
 * Charges the actual cost of a held request: first from the hold's own draws (in their order), then
 * what goes beyond the hold from the other grants in burn order; what no grant covers lowers the
 * unallocated balance. What the hold kept on grants that have expired since is forfeited right after.
 */
function settleHold(tx: Transaction, open: OpenReservation, actualCredits: number): void {
  const charged = new Map<string, number>();
  let left = actualCredits;
  for (const draw of open.draws) {
    const take = Math.min(left, draw.credits);
    if (take > 0) charged.set(draw.grantId, (charged.get(draw.grantId) ?? 0) + take);
    left -= take;
  }
  // Only when the whole hold is charged can anything be left; the grants' drawable credits then already
  // exclude this hold's draws, which the charge above consumes completely.
  if (left > 0) {
    for (const draw of drawInBurnOrder(tx.drawableGrants(), left).draws) {
      charged.set(draw.grantId, (charged.get(draw.grantId) ?? 0) + draw.credits);
    }
  }
  const draws: Draw[] = [...charged].map(([grantId, credits]) => ({ grantId, credits }));
  tx.emit({
    type: 'reservation_settled',
    occurredAt: tx.at,
    data: {
      admissionId: open.admissionId,
      requestId: open.requestId,
      heldCredits: open.credits,
      actualCredits,
      releasedCredits: Math.max(0, open.credits - actualCredits),
      overshootCredits: Math.max(0, actualCredits - open.credits),
      draws,
    },
  });
  tx.forfeitReleasedOnExpiredGrants(open.draws, tx.atMs);
}

function voidReservation(tx: Transaction, { data }: Void): DecideResult {
  if (!isId(data.admissionId)) return rejected('invalid_id', 'admissionId must be an identifier');
  if (!isText(data.reason)) return rejected('invalid_text', `reason must be non-blank and at most ${ledgerLimits.textLengthMax} characters`);
  const open = tx.state.reservations.get(data.admissionId);
  if (open !== undefined) {
    tx.emit({
      type: 'reservation_voided',
      occurredAt: tx.at,
      data: { admissionId: open.admissionId, requestId: open.requestId, releasedCredits: open.credits, reason: data.reason },
    });
    tx.forfeitReleasedOnExpiredGrants(open.draws, tx.atMs);
    return tx.accepted();
  }
  const resolved = tx.state.resolved.get(data.admissionId);
  if (resolved === undefined) {
    // Unlike a completion, a void carries nothing to record before its decision; the hold it would have
    // ended expires on its own.
    return rejected('reservation_not_found', `no reservation for admission ${data.admissionId}`);
  }
  if (resolved.resolution === 'voided') {
    return resolved.event.data.reason === data.reason
      ? exists(resolved.event)
      : conflict(resolved.event, `admission ${data.admissionId} was voided for another reason`);
  }
  return { kind: 'already_resolved', events: [], resolution: resolved.resolution, first: resolved.event };
}

function adjust(tx: Transaction, { data }: Adjust): DecideResult {
  if (!isId(data.adjustmentId)) return rejected('invalid_id', 'adjustmentId must be an identifier');
  if (!isPositiveCredits(Math.abs(data.credits))) {
    return rejected('invalid_amount', `credits must be a non-zero whole number within ±${ledgerLimits.creditsPerCommandMax}`);
  }
  if (!isText(data.reason)) return rejected('invalid_text', `reason must be non-blank and at most ${ledgerLimits.textLengthMax} characters`);
  const recorded = tx.state.adjustments.get(data.adjustmentId);
  if (recorded !== undefined) {
    return recorded.data.credits === data.credits && recorded.data.reason === data.reason
      ? exists(recorded)
      : conflict(recorded, `adjustment ${data.adjustmentId} was recorded with another body`);
  }
  tx.emit({ type: 'credits_adjusted', occurredAt: tx.at, data: { adjustmentId: data.adjustmentId, credits: data.credits, reason: data.reason } });
  return tx.accepted();
}
