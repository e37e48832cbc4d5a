/**
 * The state of one credit account, and `evolve`, which folds one event into it. The state is a value:
 * `evolve` never mutates its input, so `events.reduce(evolve, initialState())` can be run, cached and
 * compared freely. Everything in it follows from the events alone.
 */
import type {
  AccountOpened,
  CreditAccountEvent,
  CreditsAdjusted,
  CreditsGranted,
  CreditsReserved,
  Draw,
  GrantSource,
  PlanChanged,
  ReservationExpired,
  ReservationSettled,
  ReservationVoided,
} from './credit-account.events';
import { IdMap } from './id-map';
import { parseInstant } from './time';

export type GrantState = {
  readonly grantId: string;
  /** Grant order within the stream (the "oldest" tie-break of the burn order). */
  readonly seq: number;
  readonly source: GrantSource;
  readonly priority: number;
  readonly effectiveAtMs: number;
  readonly expiresAtMs: number | null;
  /** Whether the clock has reached effectiveAt: only then do its credits count. */
  readonly active: boolean;
  /** Credits neither spent nor forfeited. Never negative. */
  readonly remainingCredits: number;
  /** Part of remainingCredits that open reservations hold. Never above remainingCredits. */
  readonly heldCredits: number;
  /** Whether the forfeiture at expiry has been recorded (later ones are `released_after_expiry`). */
  readonly expiryRecorded: boolean;
  /** The event that created the grant: the "first result" of a repeated grant command. */
  readonly granted: CreditsGranted;
};

export type OpenReservation = {
  readonly admissionId: string;
  readonly requestId: string;
  readonly credits: number;
  readonly expiresAtMs: number;
  readonly draws: readonly Draw[];
  /** Reservation order within the stream: breaks ties between expiries at the same instant. */
  readonly seq: number;
  readonly reserved: CreditsReserved;
};

export type Resolution = 'settled' | 'voided' | 'expired';

export type ResolvedReservation =
  | { readonly resolution: 'settled'; readonly event: ReservationSettled }
  | { readonly resolution: 'voided'; readonly event: ReservationVoided }
  | { readonly resolution: 'expired'; readonly event: ReservationExpired };

/** Running sums of the event stream, the terms of the balance equation (README, "Invariants"). */
export type LedgerTotals = {
  /** Credits of grants that have become effective. */
  readonly grantedCredits: number;
  readonly settledCredits: number;
  /** Part of settledCredits that was drawn on grants (the rest lowered the unallocated balance). */
  readonly drawnCredits: number;
  readonly forfeitedCredits: number;
  readonly debtRepaidCredits: number;
  /** Signed sum of adjustments. */
  readonly adjustedCredits: number;
  readonly overshootCredits: number;
  readonly shortfallCredits: number;
};

export type CreditAccountState = {
  readonly status: 'unopened' | 'open';
  readonly plan: string | null;
  /** The event that set the current plan: the "first result" of a repeated openAccount/changePlan. */
  readonly planEvent: AccountOpened | PlanChanged | null;
  /** Number of events folded in: the stream position of the last one. */
  readonly version: number;
  /** occurredAt of the last event, in epoch ms; null before the first. */
  readonly clockMs: number | null;
  /** grantedCredits - settledCredits - forfeitedCredits + adjustedCredits. May be negative (README, "Debt"). */
  readonly balanceCredits: number;
  /** Sum of the open reservations' credits. */
  readonly heldCredits: number;
  /** Credits of grants that are not yet effective; not part of the balance. */
  readonly pendingCredits: number;
  readonly totals: LedgerTotals;
  readonly nextGrantSeq: number;
  readonly nextReservationSeq: number;
  /** Grants that still have credits or are not yet effective. Small (liveGrantsMax), so a plain map. */
  readonly grants: ReadonlyMap<string, GrantState>;
  /** Grants with nothing left, kept for idempotency of their grant id. */
  readonly spentGrants: IdMap<CreditsGranted>;
  readonly reservations: IdMap<OpenReservation>;
  readonly resolved: IdMap<ResolvedReservation>;
  readonly adjustments: IdMap<CreditsAdjusted>;
};

const zeroTotals: LedgerTotals = {
  grantedCredits: 0,
  settledCredits: 0,
  drawnCredits: 0,
  forfeitedCredits: 0,
  debtRepaidCredits: 0,
  adjustedCredits: 0,
  overshootCredits: 0,
  shortfallCredits: 0,
};

export function initialState(): CreditAccountState {
  return {
    status: 'unopened',
    plan: null,
    planEvent: null,
    version: 0,
    clockMs: null,
    balanceCredits: 0,
    heldCredits: 0,
    pendingCredits: 0,
    totals: zeroTotals,
    nextGrantSeq: 0,
    nextReservationSeq: 0,
    grants: new Map(),
    spentGrants: IdMap.empty(),
    reservations: IdMap.empty(),
    resolved: IdMap.empty(),
    adjustments: IdMap.empty(),
  };
}

/**
 * Moves the clock forward to `ms` and makes effective every grant whose effectiveAt it reaches.
 * `evolve` calls it with each event's occurredAt, so activation follows from the events alone;
 * the decider and the balance view call it to look at the account at a later instant.
 * The clock never moves back.
 */
export function advanceClock(state: CreditAccountState, ms: number): CreditAccountState {
  const clockMs = state.clockMs === null ? ms : Math.max(state.clockMs, ms);
  if (state.pendingCredits === 0) return clockMs === state.clockMs ? state : { ...state, clockMs };
  let grants: Map<string, GrantState> | null = null;
  let activated = 0;
  for (const grant of state.grants.values()) {
    if (grant.active || grant.effectiveAtMs > clockMs) continue;
    grants ??= new Map(state.grants);
    grants.set(grant.grantId, { ...grant, active: true });
    activated += grant.remainingCredits;
  }
  if (grants === null) return { ...state, clockMs };
  return {
    ...state,
    clockMs,
    grants,
    balanceCredits: state.balanceCredits + activated,
    pendingCredits: state.pendingCredits - activated,
    totals: { ...state.totals, grantedCredits: state.totals.grantedCredits + activated },
  };
}

/**
 * Folds one event into the state. `evolve` trusts the stream: it is total and never throws, and an
 * event that refers to a grant or reservation the stream does not have changes only the account sums.
 * Auditing a stream is `verifyStream`'s job, done by an independent fold.
 */
export function evolve(state: CreditAccountState, event: CreditAccountEvent): CreditAccountState {
  const at = parseInstant(event.occurredAt);
  const clocked = at === null ? state : advanceClock(state, at);
  return { ...apply(clocked, event), version: state.version + 1 };
}

/** Folds events into a state: `evolveAll(initialState(), stream)` is the account. */
export function evolveAll(state: CreditAccountState, events: readonly CreditAccountEvent[]): CreditAccountState {
  return events.reduce(evolve, state);
}

function apply(state: CreditAccountState, event: CreditAccountEvent): CreditAccountState {
  switch (event.type) {
    case 'account_opened':
      return { ...state, status: 'open', plan: event.data.plan, planEvent: event };
    case 'plan_changed':
      return { ...state, plan: event.data.plan, planEvent: event };
    case 'credits_granted':
      return applyGranted(state, event);
    case 'credits_reserved':
      return applyReserved(state, event);
    case 'reservation_settled': {
      const released = releaseHold(state, event.data.admissionId);
      const grants = new Map(released.grants);
      for (const draw of event.data.draws) changeGrant(grants, draw.grantId, (g) => ({ ...g, remainingCredits: g.remainingCredits - draw.credits }));
      const drawn = sumCredits(event.data.draws);
      return retireSpentGrants({
        ...released,
        grants,
        balanceCredits: released.balanceCredits - event.data.actualCredits,
        totals: {
          ...released.totals,
          settledCredits: released.totals.settledCredits + event.data.actualCredits,
          drawnCredits: released.totals.drawnCredits + drawn,
          overshootCredits: released.totals.overshootCredits + event.data.overshootCredits,
        },
        resolved: released.resolved.set(event.data.admissionId, { resolution: 'settled', event }),
      });
    }
    case 'reservation_voided': {
      const released = releaseHold(state, event.data.admissionId);
      return { ...released, resolved: released.resolved.set(event.data.admissionId, { resolution: 'voided', event }) };
    }
    case 'reservation_expired': {
      const released = releaseHold(state, event.data.admissionId);
      return { ...released, resolved: released.resolved.set(event.data.admissionId, { resolution: 'expired', event }) };
    }
    case 'grant_expired': {
      const { grantId, forfeitedCredits, debtRepaidCredits, reason } = event.data;
      const grants = new Map(state.grants);
      changeGrant(grants, grantId, (g) => ({
        ...g,
        remainingCredits: g.remainingCredits - forfeitedCredits - debtRepaidCredits,
        expiryRecorded: g.expiryRecorded || reason === 'expired',
      }));
      return retireSpentGrants({
        ...state,
        grants,
        balanceCredits: state.balanceCredits - forfeitedCredits,
        totals: {
          ...state.totals,
          forfeitedCredits: state.totals.forfeitedCredits + forfeitedCredits,
          debtRepaidCredits: state.totals.debtRepaidCredits + debtRepaidCredits,
        },
      });
    }
    case 'credits_adjusted':
      return {
        ...state,
        balanceCredits: state.balanceCredits + event.data.credits,
        totals: { ...state.totals, adjustedCredits: state.totals.adjustedCredits + event.data.credits },
        adjustments: state.adjustments.set(event.data.adjustmentId, event),
      };
    default: {
      const _exhaustive: never = event;
      return _exhaustive;
    }
  }
}

function applyGranted(state: CreditAccountState, event: CreditsGranted): CreditAccountState {
  const { grantId, credits, source, priority, effectiveAt, expiresAt } = event.data;
  const effectiveAtMs = parseInstant(effectiveAt) ?? 0;
  const active = state.clockMs !== null && effectiveAtMs <= state.clockMs;
  const grant: GrantState = {
    grantId,
    seq: state.nextGrantSeq,
    source,
    priority,
    effectiveAtMs,
    expiresAtMs: expiresAt === null ? null : parseInstant(expiresAt),
    active,
    remainingCredits: credits,
    heldCredits: 0,
    expiryRecorded: false,
    granted: event,
  };
  const grants = new Map(state.grants);
  grants.set(grantId, grant);
  return {
    ...state,
    grants,
    nextGrantSeq: state.nextGrantSeq + 1,
    balanceCredits: active ? state.balanceCredits + credits : state.balanceCredits,
    pendingCredits: active ? state.pendingCredits : state.pendingCredits + credits,
    totals: active ? { ...state.totals, grantedCredits: state.totals.grantedCredits + credits } : state.totals,
  };
}

function applyReserved(state: CreditAccountState, event: CreditsReserved): CreditAccountState {
  const { admissionId, requestId, credits, draws, expiresAt, shortfallCredits } = event.data;
  const grants = new Map(state.grants);
  for (const draw of draws) changeGrant(grants, draw.grantId, (g) => ({ ...g, heldCredits: g.heldCredits + draw.credits }));
  const reservation: OpenReservation = {
    admissionId,
    requestId,
    credits,
    expiresAtMs: parseInstant(expiresAt) ?? 0,
    draws,
    seq: state.nextReservationSeq,
    reserved: event,
  };
  return {
    ...state,
    grants,
    heldCredits: state.heldCredits + credits,
    nextReservationSeq: state.nextReservationSeq + 1,
    reservations: state.reservations.set(admissionId, reservation),
    totals: { ...state.totals, shortfallCredits: state.totals.shortfallCredits + shortfallCredits },
  };
}

/** Ends the hold of an open reservation: its credits are no longer held, on the account or its grants. */
function releaseHold(state: CreditAccountState, admissionId: string): CreditAccountState {
  const reservation = state.reservations.get(admissionId);
  if (reservation === undefined) return state;
  const grants = new Map(state.grants);
  for (const draw of reservation.draws) changeGrant(grants, draw.grantId, (g) => ({ ...g, heldCredits: g.heldCredits - draw.credits }));
  return {
    ...state,
    grants,
    heldCredits: state.heldCredits - reservation.credits,
    reservations: state.reservations.delete(admissionId),
  };
}

/** Moves grants with nothing left to `spentGrants`: no event can give a grant credits back. */
function retireSpentGrants(state: CreditAccountState): CreditAccountState {
  let grants: Map<string, GrantState> | null = null;
  let spentGrants = state.spentGrants;
  for (const grant of state.grants.values()) {
    if (grant.remainingCredits > 0 || !grant.active) continue;
    grants ??= new Map(state.grants);
    grants.delete(grant.grantId);
    spentGrants = spentGrants.set(grant.grantId, grant.granted);
  }
  return grants === null ? state : { ...state, grants, spentGrants };
}

function changeGrant(grants: Map<string, GrantState>, grantId: string, change: (grant: GrantState) => GrantState): void {
  const grant = grants.get(grantId);
  if (grant !== undefined) grants.set(grantId, change(grant));
}

export function sumCredits(draws: readonly Draw[]): number {
  return draws.reduce((sum, draw) => sum + draw.credits, 0);
}

// ---------------------------------------------------------------------------------------------------
// Queries the decider and the views share.

/** Whether the grant's expiresAt has been reached at `ms`. */
export function isExpiredAt(grant: GrantState, ms: number): boolean {
  return grant.expiresAtMs !== null && grant.expiresAtMs <= ms;
}

/** Credits of an effective, unexpired grant that no hold has claimed. */
export function drawableCredits(grant: GrantState, ms: number): number {
  if (!grant.active || isExpiredAt(grant, ms)) return 0;
  return grant.remainingCredits - grant.heldCredits;
}

/**
 * The part of the balance no grant holds: positive from adjustments, negative ("debt") when charges
 * went beyond every grant or a negative adjustment took more than the grants had.
 */
export function unallocatedCredits(state: CreditAccountState): number {
  let onGrants = 0;
  for (const grant of state.grants.values()) if (grant.active) onGrants += grant.remainingCredits;
  return state.balanceCredits - onGrants;
}

export function debtCredits(state: CreditAccountState): number {
  return Math.max(0, -unallocatedCredits(state));
}

export function availableCredits(state: CreditAccountState): number {
  return state.balanceCredits - state.heldCredits;
}

/** The first event recorded for a grant id, live or spent. */
export function grantRecord(state: CreditAccountState, grantId: string): CreditsGranted | undefined {
  return state.grants.get(grantId)?.granted ?? state.spentGrants.get(grantId);
}
