/**
 * Test helpers: given(events).when(command).then(events), and builders for commands and events.
 * Times are minutes after T0 so that scenarios read as a timeline. Not exported from index.ts (it
 * imports vitest); tests in this library import it directly.
 */
import { expect } from 'vitest';
import { checkInvariants, toBalanceView, type BalanceView } from './balance-view';
import type {
  Adjust,
  ChangePlan,
  CreditAccountCommand,
  ExpireDue,
  Grant,
  GrantPlanPeriod,
  OpenAccount,
  Reserve,
  Settle,
  Void,
} from './credit-account.commands';
import { defaultPriorityBySource, planPeriodGrantId } from './credit-account.commands';
import type {
  AccountOpened,
  CreditAccountEvent,
  CreditsAdjusted,
  CreditsGranted,
  CreditsReserved,
  Draw,
  ForfeitReason,
  GrantExpired,
  GrantSource,
  PlanChanged,
  ReservationExpired,
  ReservationSettled,
  ReservationVoided,
} from './credit-account.events';
import type { DecideResult, Rejection } from './credit-account.decider';
import { decide } from './credit-account.decider';
import type { CreditAccountState, Resolution } from './credit-account.state';
import { evolveAll, initialState } from './credit-account.state';
import { formatInstant } from './time';
import { verifyStream } from './verify-stream';

export const T0_MS = Date.parse('2026-01-01T00:00:00.000Z');

/** The instant `minutes` after T0, as events carry it. */
export function t(minutes: number): string {
  return formatInstant(T0_MS + minutes * 60_000);
}

// ---------------------------------------------------------------------------------------------------
// Commands. `at` is the command's now, in minutes after T0.

const meta = (at: number) => ({ now: t(at) });

export const openAccount = (plan = 'pro', at = 0): OpenAccount => ({ type: 'openAccount', data: { plan }, metadata: meta(at) });
export const changePlan = (plan: string, at = 0): ChangePlan => ({ type: 'changePlan', data: { plan }, metadata: meta(at) });

export function grant(
  grantId: string,
  credits: number,
  options: { source?: GrantSource; priority?: number; effectiveAt?: number; expiresAt?: number | null; at?: number } = {},
): Grant {
  return {
    type: 'grant',
    data: {
      grantId,
      credits,
      source: options.source ?? 'purchase',
      ...(options.priority === undefined ? {} : { priority: options.priority }),
      ...(options.effectiveAt === undefined ? {} : { effectiveAt: t(options.effectiveAt) }),
      ...(options.expiresAt === undefined ? {} : { expiresAt: options.expiresAt === null ? null : t(options.expiresAt) }),
    },
    metadata: meta(options.at ?? 0),
  };
}

export const reserve = (admissionId: string, credits: number, options: { expiresAt?: number; at?: number; requestId?: string } = {}): Reserve => ({
  type: 'reserve',
  data: { admissionId, requestId: options.requestId ?? requestOf(admissionId), credits, expiresAt: t(options.expiresAt ?? 60) },
  metadata: meta(options.at ?? 0),
});

export const settle = (admissionId: string, actualCredits: number, options: { at?: number; requestId?: string } = {}): Settle => ({
  type: 'settle',
  data: { admissionId, requestId: options.requestId ?? requestOf(admissionId), actualCredits },
  metadata: meta(options.at ?? 0),
});

export const voidReservation = (admissionId: string, reason = 'cancelled', at = 0): Void => ({
  type: 'void',
  data: { admissionId, reason },
  metadata: meta(at),
});

export const expireDue = (at: number): ExpireDue => ({ type: 'expireDue', data: {}, metadata: meta(at) });

export const adjust = (adjustmentId: string, credits: number, reason = 'correction', at = 0): Adjust => ({
  type: 'adjust',
  data: { adjustmentId, credits, reason },
  metadata: meta(at),
});

export function grantPlanPeriod(
  periodKey: string,
  credits: number,
  options: { planId?: string; rolloverCapCredits?: number; expiresAt?: number | null; at?: number } = {},
): GrantPlanPeriod {
  return {
    type: 'grantPlanPeriod',
    data: {
      planId: options.planId ?? 'pro',
      periodKey,
      credits,
      rolloverCapCredits: options.rolloverCapCredits ?? 0,
      expiresAt: options.expiresAt === undefined || options.expiresAt === null ? null : t(options.expiresAt),
    },
    metadata: meta(options.at ?? 0),
  };
}

/** Scenarios name requests after their admissions: adm-1 belongs to req-1. */
export function requestOf(admissionId: string): string {
  return admissionId.replace(/^adm/, 'req');
}

// ---------------------------------------------------------------------------------------------------
// Events. `at` is occurredAt, in minutes after T0.

export const opened = (plan = 'pro', at = 0): AccountOpened => ({ type: 'account_opened', occurredAt: t(at), data: { plan } });
export const planChanged = (plan: string, previousPlan: string, at = 0): PlanChanged => ({
  type: 'plan_changed',
  occurredAt: t(at),
  data: { plan, previousPlan },
});

export function granted(
  grantId: string,
  credits: number,
  options: { source?: GrantSource; priority?: number; effectiveAt?: number; expiresAt?: number | null; at?: number; rolloverCapCredits?: number } = {},
): CreditsGranted {
  const source = options.source ?? 'purchase';
  const at = options.at ?? 0;
  const planPeriod = /^plan:([^:]+):(.+)$/.exec(grantId);
  return {
    type: 'credits_granted',
    occurredAt: t(at),
    data: {
      grantId,
      credits,
      source,
      priority: options.priority ?? defaultPriorityBySource[source],
      effectiveAt: t(options.effectiveAt ?? at),
      expiresAt: options.expiresAt === undefined || options.expiresAt === null ? null : t(options.expiresAt),
      planPeriod:
        options.rolloverCapCredits === undefined || planPeriod === null
          ? null
          : { planId: planPeriod[1] ?? '', periodKey: planPeriod[2] ?? '', rolloverCapCredits: options.rolloverCapCredits },
    },
  };
}

/** The event grantPlanPeriod records (with the default plan `pro` and priority of plan grants). */
export const planGranted = (periodKey: string, credits: number, options: { rolloverCapCredits?: number; expiresAt?: number | null; at?: number; planId?: string } = {}) =>
  granted(planPeriodGrantId(options.planId ?? 'pro', periodKey), credits, {
    source: 'plan',
    rolloverCapCredits: options.rolloverCapCredits ?? 0,
    ...(options.expiresAt === undefined ? {} : { expiresAt: options.expiresAt }),
    ...(options.at === undefined ? {} : { at: options.at }),
  });

export const draw = (grantId: string, credits: number): Draw => ({ grantId, credits });

export const reserved = (
  admissionId: string,
  credits: number,
  draws: readonly Draw[],
  options: { expiresAt?: number; at?: number; shortfallCredits?: number; requestId?: string } = {},
): CreditsReserved => ({
  type: 'credits_reserved',
  occurredAt: t(options.at ?? 0),
  data: {
    admissionId,
    requestId: options.requestId ?? requestOf(admissionId),
    credits,
    draws,
    shortfallCredits: options.shortfallCredits ?? 0,
    expiresAt: t(options.expiresAt ?? 60),
  },
});

export const settled = (
  admissionId: string,
  amounts: { held: number; actual: number },
  draws: readonly Draw[],
  options: { at?: number; requestId?: string } = {},
): ReservationSettled => ({
  type: 'reservation_settled',
  occurredAt: t(options.at ?? 0),
  data: {
    admissionId,
    requestId: options.requestId ?? requestOf(admissionId),
    heldCredits: amounts.held,
    actualCredits: amounts.actual,
    releasedCredits: Math.max(0, amounts.held - amounts.actual),
    overshootCredits: Math.max(0, amounts.actual - amounts.held),
    draws,
  },
});

export const voided = (admissionId: string, releasedCredits: number, reason = 'cancelled', at = 0): ReservationVoided => ({
  type: 'reservation_voided',
  occurredAt: t(at),
  data: { admissionId, requestId: requestOf(admissionId), releasedCredits, reason },
});

export const reservationExpired = (admissionId: string, releasedCredits: number, at: number): ReservationExpired => ({
  type: 'reservation_expired',
  occurredAt: t(at),
  data: { admissionId, requestId: requestOf(admissionId), releasedCredits },
});

export const grantExpired = (
  grantId: string,
  forfeitedCredits: number,
  options: { at: number; debtRepaidCredits?: number; reason?: ForfeitReason },
): GrantExpired => ({
  type: 'grant_expired',
  occurredAt: t(options.at),
  data: { grantId, forfeitedCredits, debtRepaidCredits: options.debtRepaidCredits ?? 0, reason: options.reason ?? 'expired' },
});

export const adjusted = (adjustmentId: string, credits: number, reason = 'correction', at = 0): CreditsAdjusted => ({
  type: 'credits_adjusted',
  occurredAt: t(at),
  data: { adjustmentId, credits, reason },
});

// ---------------------------------------------------------------------------------------------------
// given / when / then

/** Asserts the state invariants and that the independent verifier agrees with the projection. */
export function expectSound(events: readonly CreditAccountEvent[], state: CreditAccountState): void {
  expect(checkInvariants(state)).toEqual([]);
  const report = verifyStream(events, toBalanceView(state));
  expect(report.problems).toEqual([]);
  expect(report.mismatches).toEqual([]);
}

export type Then = {
  readonly result: DecideResult;
  /** The state after the decision's events. */
  readonly state: CreditAccountState;
  /** The command is accepted with exactly these events. */
  then(expected: readonly CreditAccountEvent[]): Then;
  thenRejected(reason: Rejection): Then;
  thenExists(first?: CreditAccountEvent): Then;
  thenConflict(): Then;
  thenAlreadyResolved(resolution: Resolution): Then;
  /** The balance view after the decision matches these fields. */
  thenBalance(expected: Partial<BalanceView>): Then;
};

export function given(history: readonly CreditAccountEvent[]) {
  const before = evolveAll(initialState(), history);
  expectSound(history, before);
  return {
    state: before,
    when(command: CreditAccountCommand): Then {
      const result = decide(command, before);
      const after = evolveAll(before, result.events);
      expectSound([...history, ...result.events], after);
      if (result.kind !== 'accepted') expect(result.events).toEqual([]);
      const outcome: Then = {
        result,
        state: after,
        then(expected) {
          expect(result).toMatchObject({ kind: 'accepted' });
          expect(result.events).toEqual(expected);
          return outcome;
        },
        thenRejected(reason) {
          expect(result).toMatchObject({ kind: 'rejected', reason });
          return outcome;
        },
        thenExists(first) {
          expect(result).toMatchObject(first === undefined ? { kind: 'exists' } : { kind: 'exists', first });
          return outcome;
        },
        thenConflict() {
          expect(result).toMatchObject({ kind: 'conflict' });
          return outcome;
        },
        thenAlreadyResolved(resolution) {
          expect(result).toMatchObject({ kind: 'already_resolved', resolution });
          return outcome;
        },
        thenBalance(expected) {
          expect(toBalanceView(after)).toMatchObject(expected);
          return outcome;
        },
      };
      return outcome;
    },
  };
}
