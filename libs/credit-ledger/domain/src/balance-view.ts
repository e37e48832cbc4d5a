/**
 * Pure projections of a credit account for the store and the HTTP API, and the invariants a state
 * must satisfy after every event.
 */
import { compareBurnOrder } from './burn-order';
import { decide } from './credit-account.decider';
import type { GrantSource } from './credit-account.events';
import type { CreditAccountState } from './credit-account.state';
import { advanceClock, availableCredits, evolveAll, isExpiredAt, unallocatedCredits } from './credit-account.state';
import { formatInstant, parseInstant } from './time';

export type GrantView = {
  readonly grantId: string;
  readonly source: GrantSource;
  readonly priority: number;
  readonly remainingCredits: number;
  readonly heldCredits: number;
  readonly effectiveAt: string;
  readonly expiresAt: string | null;
  /** pending: not yet effective (not in the balance); expired: only credits an open hold keeps are left. */
  readonly status: 'pending' | 'active' | 'expired';
};

/** The account as `GET /v1/accounts/{id}/balance` shows it (the adapter adds accountId). */
export type BalanceView = {
  readonly plan: string | null;
  readonly balanceCredits: number;
  readonly heldCredits: number;
  /** balanceCredits - heldCredits; negative when holds or charges went beyond the balance. */
  readonly availableCredits: number;
  /** Credits of grants that are not yet effective. Not part of balance or available. */
  readonly pendingCredits: number;
  /** The part of the balance no grant holds (adjustments; negative = debt). */
  readonly unallocatedCredits: number;
  /** Everything charged beyond holds so far: the account's overshoot (ARCHITECTURE, "Invariants"). */
  readonly overshootCredits: number;
  /** Grants with credits left or not yet effective, in burn order. */
  readonly grants: readonly GrantView[];
  /** Stream position of the last recorded event. */
  readonly version: number;
  /** The instant the view describes; null for an account with no events. */
  readonly asOf: string | null;
};

/**
 * The balance of an account. Without `asOf` it shows the stream as recorded, at its last event. With
 * a later `asOf` it shows the account as it will be once time has moved on: grants that have become
 * effective count, and the expiries due by then are applied as `expireDue` would record them (not
 * appended: `version` stays the recorded one). An `asOf` before the last event is the last event.
 */
export function toBalanceView(state: CreditAccountState, asOf?: string): BalanceView {
  let viewed = state;
  const asOfMs = asOf === undefined ? null : parseInstant(asOf);
  if (asOf !== undefined && asOfMs === null) throw new RangeError(`asOf is not an ISO-8601 instant: ${asOf}`);
  if (asOfMs !== null && state.status === 'open') {
    viewed = evolveAll(state, decide({ type: 'expireDue', data: {}, metadata: { now: formatInstant(asOfMs) } }, state).events);
    viewed = advanceClock(viewed, asOfMs);
  }
  const clockMs = viewed.clockMs;
  const grants = [...viewed.grants.values()].sort(compareBurnOrder).map(
    (grant): GrantView => ({
      grantId: grant.grantId,
      source: grant.source,
      priority: grant.priority,
      remainingCredits: grant.remainingCredits,
      heldCredits: grant.heldCredits,
      effectiveAt: grant.granted.data.effectiveAt,
      expiresAt: grant.granted.data.expiresAt,
      status: !grant.active ? 'pending' : clockMs !== null && isExpiredAt(grant, clockMs) ? 'expired' : 'active',
    }),
  );
  return {
    plan: viewed.plan,
    balanceCredits: viewed.balanceCredits,
    heldCredits: viewed.heldCredits,
    availableCredits: availableCredits(viewed),
    pendingCredits: viewed.pendingCredits,
    unallocatedCredits: unallocatedCredits(viewed),
    overshootCredits: viewed.totals.overshootCredits,
    grants,
    version: state.version,
    asOf: clockMs === null ? null : formatInstant(clockMs),
  };
}

/**
 * The invariants of a credit account state (README, "Invariants"), as a list of violations: empty when
 * the state is sound. Tests assert it after every event; the store may assert it after each append.
 */
export function checkInvariants(state: CreditAccountState): string[] {
  const problems: string[] = [];
  const { totals } = state;
  const expectedBalance = totals.grantedCredits - totals.settledCredits - totals.forfeitedCredits + totals.adjustedCredits;
  if (state.balanceCredits !== expectedBalance) {
    problems.push(`balance ${state.balanceCredits} != granted - settled - forfeited + adjusted = ${expectedBalance}`);
  }

  let heldByReservations = 0;
  const heldOnGrant = new Map<string, number>();
  for (const reservation of state.reservations.values()) {
    heldByReservations += reservation.credits;
    let drawn = 0;
    for (const draw of reservation.draws) {
      drawn += draw.credits;
      heldOnGrant.set(draw.grantId, (heldOnGrant.get(draw.grantId) ?? 0) + draw.credits);
    }
    if (drawn > reservation.credits) problems.push(`reservation ${reservation.admissionId} draws ${drawn} > its ${reservation.credits} credits`);
    if (state.resolved.has(reservation.admissionId)) problems.push(`reservation ${reservation.admissionId} is both open and resolved`);
  }
  if (state.heldCredits !== heldByReservations) problems.push(`held ${state.heldCredits} != sum of open reservations ${heldByReservations}`);

  let pending = 0;
  let remainingOnActive = 0;
  for (const grant of state.grants.values()) {
    const held = heldOnGrant.get(grant.grantId) ?? 0;
    if (grant.heldCredits !== held) problems.push(`grant ${grant.grantId} held ${grant.heldCredits} != open draws on it ${held}`);
    if (grant.heldCredits < 0 || grant.heldCredits > grant.remainingCredits) {
      problems.push(`grant ${grant.grantId} held ${grant.heldCredits} outside 0..remaining ${grant.remainingCredits}`);
    }
    if (grant.remainingCredits <= 0 && grant.active) problems.push(`grant ${grant.grantId} is live with ${grant.remainingCredits} remaining`);
    if (!grant.active) {
      pending += grant.remainingCredits;
      if (grant.remainingCredits !== grant.granted.data.credits || grant.heldCredits !== 0) {
        problems.push(`pending grant ${grant.grantId} has been drawn on`);
      }
      if (state.clockMs !== null && grant.effectiveAtMs <= state.clockMs) problems.push(`grant ${grant.grantId} is effective but not active`);
    } else {
      remainingOnActive += grant.remainingCredits;
    }
    if (state.spentGrants.has(grant.grantId)) problems.push(`grant ${grant.grantId} is both live and spent`);
  }
  if (state.pendingCredits !== pending) problems.push(`pending ${state.pendingCredits} != sum of pending grants ${pending}`);

  // Every effective credit is still on a grant, or was drawn, forfeited or moved to pay debt.
  const leftGrants = totals.grantedCredits - remainingOnActive;
  const expectedLeft = totals.drawnCredits + totals.forfeitedCredits + totals.debtRepaidCredits;
  if (leftGrants !== expectedLeft) {
    problems.push(`granted - remaining on grants ${leftGrants} != drawn + forfeited + debt repaid ${expectedLeft}`);
  }
  return problems;
}
