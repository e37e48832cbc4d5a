/**
 * Random command sequences against the decider and, separately, against a plain reference model
 * (reference-model.ts). After every command: the same outcome; the same balance, holds and grants;
 * the state invariants; the balance equation over the events; and the independent verifier agrees.
 * At the end, replaying all events from scratch gives the state the decisions built step by step.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toBalanceView } from './balance-view';
import { checkInvariants } from './balance-view';
import type { CreditAccountCommand } from './credit-account.commands';
import { decide } from './credit-account.decider';
import type { CreditAccountEvent } from './credit-account.events';
import type { CreditAccountState } from './credit-account.state';
import { evolveAll, initialState } from './credit-account.state';
import { ReferenceLedger } from './reference-model';
import { adjust, changePlan, expireDue, grant, grantPlanPeriod, openAccount, reserve, settle, t, T0_MS, voidReservation } from './testing';
import { parseInstant } from './time';
import { verifyStream } from './verify-stream';

/**
 * A command without its time, as plain data so that a failing case prints readably. Small id pools
 * make duplicates and conflicting duplicates common.
 */
type Op =
  | { readonly type: 'openAccount' | 'changePlan'; readonly plan: string }
  | {
      readonly type: 'grant';
      readonly id: string;
      readonly credits: number;
      readonly source: 'purchase' | 'promo' | 'plan' | 'enterprise';
      readonly priority: number | null;
      readonly effectiveIn: number | null;
      readonly expiresIn: number | null;
    }
  | { readonly type: 'grantPlanPeriod'; readonly period: string; readonly credits: number; readonly cap: number; readonly expiresIn: number | null }
  | { readonly type: 'reserve'; readonly id: string; readonly credits: number; readonly expiresIn: number; readonly otherRequest: boolean }
  | { readonly type: 'settle'; readonly id: string; readonly actual: number; readonly otherRequest: boolean }
  | { readonly type: 'void'; readonly id: string; readonly reason: string }
  | { readonly type: 'expireDue' }
  | { readonly type: 'adjust'; readonly id: string; readonly credits: number; readonly reason: string };

/** Advance the clock, then issue `op` (stamped `lateMinutes` early: out-of-order delivery), or retry an earlier command. */
type Step =
  | { readonly advanceMinutes: number; readonly lateMinutes: number; readonly op: Op }
  | { readonly advanceMinutes: number; readonly repeat: number };

function toCommand(op: Op, at: number): CreditAccountCommand {
  switch (op.type) {
    case 'openAccount':
      return openAccount(op.plan, at);
    case 'changePlan':
      return changePlan(op.plan, at);
    case 'grant':
      return grant(op.id, op.credits, {
        source: op.source,
        ...(op.priority === null ? {} : { priority: op.priority }),
        ...(op.effectiveIn === null ? {} : { effectiveAt: at + op.effectiveIn }),
        ...(op.expiresIn === null ? {} : { expiresAt: at + op.expiresIn + Math.max(0, op.effectiveIn ?? 0) }),
        at,
      });
    case 'grantPlanPeriod':
      return grantPlanPeriod(op.period, op.credits, { rolloverCapCredits: op.cap, expiresAt: op.expiresIn === null ? null : at + op.expiresIn, at });
    case 'reserve':
      return reserve(op.id, op.credits, { expiresAt: at + op.expiresIn, at, ...(op.otherRequest ? { requestId: 'req-x' } : {}) });
    case 'settle':
      return settle(op.id, op.actual, { at, ...(op.otherRequest ? { requestId: 'req-x' } : {}) });
    case 'void':
      return voidReservation(op.id, op.reason, at);
    case 'expireDue':
      return expireDue(at);
    case 'adjust':
      return adjust(op.id, op.credits, op.reason, at);
    default: {
      const _exhaustive: never = op;
      return _exhaustive;
    }
  }
}

const grantId = fc.constantFrom('g1', 'g2', 'g3', 'g4');
const admissionId = fc.integer({ min: 1, max: 12 }).map((n) => `adm-${n}`);
const minutesAhead = fc.constantFrom(-5, 1, 10, 30, 60, 180);
const sometimes = fc.oneof({ weight: 5, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) });

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 1, arbitrary: fc.record({ type: fc.constantFrom('openAccount' as const, 'changePlan' as const), plan: fc.constantFrom('free', 'pro', 'enterprise') }) },
  {
    weight: 5,
    arbitrary: fc.record({
      type: fc.constant('grant' as const),
      id: grantId,
      credits: fc.oneof({ weight: 9, arbitrary: fc.integer({ min: 1, max: 500 }) }, { weight: 1, arbitrary: fc.constant(0) }),
      source: fc.constantFrom('purchase' as const, 'promo' as const, 'plan' as const, 'enterprise' as const),
      priority: fc.option(fc.integer({ min: 0, max: 50 }), { nil: null }),
      effectiveIn: fc.option(fc.constantFrom(-30, 0, 20, 90), { nil: null }),
      expiresIn: fc.option(minutesAhead, { nil: null }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      type: fc.constant('grantPlanPeriod' as const),
      period: fc.constantFrom('p1', 'p2', 'p3'),
      credits: fc.integer({ min: 1, max: 400 }),
      cap: fc.integer({ min: 0, max: 200 }),
      expiresIn: fc.option(minutesAhead, { nil: null }),
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      type: fc.constant('reserve' as const),
      id: admissionId,
      credits: fc.oneof({ weight: 9, arbitrary: fc.integer({ min: 1, max: 300 }) }, { weight: 1, arbitrary: fc.constant(0) }),
      expiresIn: minutesAhead,
      otherRequest: sometimes
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      type: fc.constant('settle' as const),
      id: admissionId,
      actual: fc.oneof({ weight: 9, arbitrary: fc.integer({ min: 0, max: 600 }) }, { weight: 1, arbitrary: fc.constant(-1) }),
      otherRequest: sometimes,
    }),
  },
  { weight: 3, arbitrary: fc.record({ type: fc.constant('void' as const), id: admissionId, reason: fc.constantFrom('timeout', 'cancelled', ' ') }) },
  { weight: 2, arbitrary: fc.record({ type: fc.constant('expireDue' as const) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      type: fc.constant('adjust' as const),
      id: fc.constantFrom('adj-1', 'adj-2', 'adj-3'),
      credits: fc.integer({ min: -300, max: 300 }),
      reason: fc.constantFrom('support', 'chargeback'),
    }),
  },
);

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 9, arbitrary: fc.record({ advanceMinutes: fc.constantFrom(0, 1, 5, 20, 90), lateMinutes: fc.constantFrom(0, 0, 0, 15), op }) },
  { weight: 1, arbitrary: fc.record({ advanceMinutes: fc.constantFrom(0, 5), repeat: fc.nat() }) },
);

function withNow(command: CreditAccountCommand, now: string): CreditAccountCommand {
  return { ...command, metadata: { now } } as CreditAccountCommand;
}

/** Σ effective grants − Σ settled − Σ forfeited ± Σ adjusted, straight from the events. */
function balanceFromEvents(events: readonly CreditAccountEvent[], asOfMs: number): number {
  let balance = 0;
  for (const e of events) {
    if (e.type === 'credits_granted' && (parseInstant(e.data.effectiveAt) ?? Infinity) <= asOfMs) balance += e.data.credits;
    if (e.type === 'reservation_settled') balance -= e.data.actualCredits;
    if (e.type === 'grant_expired') balance -= e.data.forfeitedCredits;
    if (e.type === 'credits_adjusted') balance += e.data.credits;
  }
  return balance;
}

function statuses(state: CreditAccountState) {
  const open = [...state.reservations.values()].map((r) => ({ admissionId: r.admissionId, status: 'open' }));
  const resolved = [...state.resolved.entries()].map(([admissionId, r]) => ({ admissionId, status: r.resolution }));
  return [...open, ...resolved].sort((a, b) => (a.admissionId < b.admissionId ? -1 : 1));
}

/** What the runs reached, so that a generator that stops reaching something fails loudly. */
const reached = new Map<string, number>();
const count = (key: string) => reached.set(key, (reached.get(key) ?? 0) + 1);

function run(steps: readonly Step[]): void {
  const reference = new ReferenceLedger();
  let state = initialState();
  const events: CreditAccountEvent[] = [];
  const issued: CreditAccountCommand[] = [];
  let minutes = 0;

  const first = openAccount('pro', 0);
  for (const [index, s] of [null, ...steps].entries()) {
    let command: CreditAccountCommand = first;
    if (s !== null && 'repeat' in s) {
      minutes += s.advanceMinutes;
      const earlier = issued[s.repeat % issued.length];
      if (earlier === undefined) continue;
      command = withNow(earlier, t(minutes));
    } else if (s !== null) {
      minutes += s.advanceMinutes;
      command = toCommand(s.op, minutes - s.lateMinutes);
    }
    issued.push(command);

    const result = decide(command, state);
    const expected = reference.apply(command);
    const context = { index, command, result };
    expect({ kind: result.kind, reason: result.kind === 'rejected' ? result.reason : undefined }, JSON.stringify(context)).toEqual({
      kind: expected.kind,
      reason: expected.kind === 'rejected' ? expected.reason : undefined,
    });
    if (result.kind !== 'accepted') expect(result.events).toEqual([]);
    count(result.kind === 'rejected' ? `rejected:${result.reason}` : result.kind);
    for (const e of result.events) count(e.type === 'grant_expired' ? `grant_expired:${e.data.reason}` : e.type);
    if (result.events.some((e) => e.type === 'grant_expired' && e.data.debtRepaidCredits > 0)) count('debt_repaid');
    if (result.events.some((e) => e.type === 'reservation_settled' && e.data.overshootCredits > 0 && e.data.heldCredits > 0)) count('overshoot');

    state = evolveAll(state, result.events);
    events.push(...result.events);

    // The invariants of the state, the balance equation over the events, and the verifier.
    expect(checkInvariants(state)).toEqual([]);
    const recorded = toBalanceView(state);
    expect(recorded.availableCredits).toBe(recorded.balanceCredits - recorded.heldCredits);
    if (state.clockMs !== null) expect(recorded.balanceCredits).toBe(balanceFromEvents(events, state.clockMs));
    const report = verifyStream(events, recorded);
    expect(report.problems).toEqual([]);
    expect(report.mismatches).toEqual([]);
    for (const g of recorded.grants) {
      expect(g.remainingCredits).toBeGreaterThan(0);
      expect(g.heldCredits).toBeGreaterThanOrEqual(0);
      expect(g.heldCredits).toBeLessThanOrEqual(g.remainingCredits);
    }

    // The same account as the reference model sees it, at the command's time.
    const now = command.metadata.now;
    const view = toBalanceView(state, now);
    // The state the view describes: the recorded one with the expiries due by `now` folded in.
    const atNow = evolveAll(state, decide(withNow(expireDue(0), now), state).events);
    const mine = {
      balanceCredits: view.balanceCredits,
      heldCredits: view.heldCredits,
      availableCredits: view.availableCredits,
      pendingCredits: view.pendingCredits,
      settledCredits: atNow.totals.settledCredits,
      forfeitedCredits: atNow.totals.forfeitedCredits,
      overshootCredits: view.overshootCredits,
      grants: view.grants
        .map((g) => ({ grantId: g.grantId, remainingCredits: g.remainingCredits, heldCredits: g.heldCredits }))
        .sort((a, b) => (a.grantId < b.grantId ? -1 : 1)),
      reservations: statuses(atNow),
    };
    expect(mine, JSON.stringify(context)).toEqual(reference.view(parseInstant(now) ?? T0_MS));
  }

  // Replaying the stream from scratch gives exactly the state built decision by decision.
  expect(evolveAll(initialState(), events)).toEqual(state);
}

describe('credit account, random command sequences', () => {
  it('agrees with the reference model and keeps every invariant', () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 60, size: 'max' }), (steps) => run(steps)),
      { numRuns: 1_000 },
    );
    const expected = [
      'accepted', 'exists', 'conflict', 'already_resolved',
      'rejected:invalid_amount', 'rejected:invalid_time', 'rejected:invalid_text', 'rejected:reservation_not_found',
      'account_opened', 'plan_changed', 'credits_granted', 'credits_reserved', 'reservation_settled', 'reservation_voided',
      'reservation_expired', 'grant_expired:expired', 'grant_expired:rolled_over', 'grant_expired:released_after_expiry',
      'credits_adjusted', 'debt_repaid', 'overshoot',
    ];
    expect(expected.filter((key) => !reached.has(key))).toEqual([]);
  });
});
