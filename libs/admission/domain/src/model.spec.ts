import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AdmissionState } from './admission-state';
import type { AdmissionRequest } from './decision';
import { asDecision, newState } from './spec-support';
import { allowancePart, expectAdmittedWithinLimits, expectWithinOvershoot, ReferenceLedger, testCatalog, type Admitted } from './testing';
import { effectiveLimit } from './waterfall';

/**
 * Random request, completion, ledger and clock sequences against a plain reference: a ledger that
 * reserves, settles and expires in order, with its messages to admission delayed arbitrarily, and
 * plain lists of what was admitted. After every step: no protective limit or allowance window is ever
 * exceeded, and the ledger's available credits never go below minus the overshoot (actual − estimated)
 * of requests already completed (ARCHITECTURE.md, Invariants).
 */

const T0 = 1_700_000_000_000;
const { plans } = testCatalog();
const ACCOUNTS = [
  { accountId: 'acct-basic', plan: 'basic' },
  { accountId: 'acct-payg', plan: 'payg' },
] as const;
const USERS = ['u-1', 'u-2'] as const;

type Op =
  | { kind: 'decide'; account: number; user: number; model: 'sora-2' | 'codex-1'; size: number; priority: 'standard' | 'batch'; gapMs: number }
  | { kind: 'complete'; pick: number; actual: 'less' | 'same' | 'more' | 'zero'; fraction: number }
  | { kind: 'ledger' }
  | { kind: 'deliverBalance'; all: boolean }
  | { kind: 'deliverReserved'; all: boolean }
  | { kind: 'grant'; account: number; credits: number }
  | { kind: 'advance'; ms: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ kind: fc.constant('decide' as const), account: fc.nat(1), user: fc.nat(1), model: fc.constantFrom('sora-2' as const, 'codex-1' as const), size: fc.integer({ min: 0, max: 40 }), priority: fc.constantFrom('standard' as const, 'batch' as const), gapMs: fc.integer({ min: 0, max: 15_000 }) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('complete' as const), pick: fc.nat(), actual: fc.constantFrom('less' as const, 'same' as const, 'more' as const, 'zero' as const), fraction: fc.double({ min: 0, max: 1, noNaN: true }) }) },
  { weight: 4, arbitrary: fc.constant({ kind: 'ledger' as const }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('deliverBalance' as const), all: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('deliverReserved' as const), all: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('grant' as const), account: fc.nat(1), credits: fc.integer({ min: 0, max: 300 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 12 * 60_000 }) }) },
  // Long jumps, so the 5 h and 7 d allowance windows roll.
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 4 * 3_600_000, max: 3 * 24 * 3_600_000 }) }) },
  // Just short of the 5 h window, where usage leaving early would show.
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 4.5 * 3_600_000, max: 5 * 3_600_000 }) }) },
);

const multipliersArb = fc.record({ load: fc.constantFrom(0.5, 1, 1.5, 2), reputation: fc.constantFrom(0.5, 1, 3) });

function request(op: Extract<Op, { kind: 'decide' }>, id: number): AdmissionRequest {
  const account = ACCOUNTS[op.account] ?? ACCOUNTS[0];
  const user = USERS[op.user] ?? USERS[0];
  const estimate: AdmissionRequest['estimate'] =
    op.model === 'sora-2'
      ? { meters: { video_seconds: op.size }, dimensions: { resolution: '720p' } }
      : { meters: { input_tokens: op.size * 5_000, output_tokens: op.size * 250 }, dimensions: {} };
  return { admissionId: `adm-${id}`, requestId: `req-${id}`, accountId: account.accountId, userId: user, model: op.model, endpoint: 'e', priority: op.priority, estimate };
}

function runModel(ops: readonly Op[], multipliers: { load: number; reputation: number }, initialCredits: readonly number[]) {
  const state: AdmissionState = newState();
  const ledgers = ACCOUNTS.map((a, i) => new ReferenceLedger(a.accountId, a.plan, initialCredits[i] ?? 0));
  for (const ledger of ledgers) {
    state.applyBalance({ accountId: ledger.accountId, plan: ledger.plan, version: ledger.version, availableCredits: ledger.available });
    for (const model of ['sora-2', 'codex-1']) for (const priority of ['standard', 'batch'] as const) state.applyLimits(model, ledger.plan, priority, multipliers.load);
    for (const user of USERS) state.applyReputation(ledger.accountId, user, multipliers.reputation);
  }
  const factor = multipliers.load * multipliers.reputation;
  const admitted: Admitted[] = [];
  let now = T0;
  let id = 0;

  const deliverBalances = (ledger: ReferenceLedger, all: boolean) => {
    do {
      const b = ledger.balances.shift();
      if (b === undefined) break;
      state.applyBalance({ accountId: ledger.accountId, version: b.version, availableCredits: b.available });
    } while (all);
  };
  const deliverReserved = (ledger: ReferenceLedger, all: boolean) => {
    do {
      const r = ledger.reserved.shift();
      if (r === undefined) break;
      state.applyLedgerReserved(r.admissionId, r.version);
    } while (all);
  };
  const checkLedgers = () => {
    for (const ledger of ledgers) expectWithinOvershoot(ledger);
  };

  for (const op of ops) {
    switch (op.kind) {
      case 'decide': {
        now += op.gapMs;
        const req = request(op, ++id);
        const plan = plans.plans.get((ACCOUNTS[op.account] ?? ACCOUNTS[0]).plan);
        if (plan === undefined) throw new Error('plan');
        const userKey = `${req.accountId}|${req.userId}`;
        const openBefore = admitted.filter((a) => a.userKey === userKey && !a.completed && (a.decision.reservationExpiresAtMs ?? 0) > now).length;
        const d = asDecision(state.decide(req, now));
        if (d.decision === 'admitted') {
          // Concurrency: a slot was free at the limit in force.
          expect(openBefore).toBeLessThan(effectiveLimit(plan.concurrentRequests, factor, 10_000));
          const allowance = allowancePart(d);
          expect(d.fundedBy.reduce((sum, f) => sum + f.credits, 0)).toBe(d.estimatedCredits);
          admitted.push({ decision: d, userKey, allowanceCredits: allowance, finalAllowanceCredits: allowance, completed: false });
          (ledgers[op.account] ?? ledgers[0])?.inbox.push({ kind: 'decided', d });
        }
        break;
      }
      case 'complete': {
        const open = admitted.filter((a) => !a.completed && (a.decision.reservationExpiresAtMs ?? 0) > now);
        const target = open[op.pick % Math.max(1, open.length)];
        if (target === undefined) break;
        const e = target.decision.estimatedCredits;
        const actual = op.actual === 'zero' ? 0 : op.actual === 'same' ? e : op.actual === 'less' ? Math.floor(e * op.fraction) : e + Math.ceil(20 * op.fraction);
        const outcome = state.applyCompletion(target.decision.admissionId, actual, actual === 0 ? 'failed' : 'succeeded');
        expect(outcome.outcome).toBe('completed');
        target.completed = true;
        target.finalAllowanceCredits = Math.min(actual, target.allowanceCredits);
        const ledger = ledgers.find((l) => l.accountId === target.decision.accountId);
        ledger?.inbox.push({ kind: 'completed', d: target.decision, actual, allowance: target.finalAllowanceCredits });
        break;
      }
      case 'ledger':
        for (const ledger of ledgers) ledger.processNext();
        break;
      case 'deliverBalance':
        for (const ledger of ledgers) deliverBalances(ledger, op.all);
        break;
      case 'deliverReserved':
        for (const ledger of ledgers) deliverReserved(ledger, op.all);
        break;
      case 'grant':
        ledgers[op.account]?.grant(op.credits);
        break;
      case 'advance':
        // The ledger settles what it has received before reservations time out (completions are
        // only sent before expiry), then time moves on and both sides expire what is due.
        for (const ledger of ledgers) while (ledger.inbox.length > 0) ledger.processNext();
        // Admission forgets a completed request's unreflected hold admissionLimits.unreflectedHoldGraceMs
        // (a day) after its expiry: the model assumes the ledger's messages arrive within that.
        if (op.ms >= 3_600_000) {
          for (const ledger of ledgers) {
            deliverBalances(ledger, true);
            deliverReserved(ledger, true);
          }
        }
        now += op.ms;
        state.expire(now);
        for (const ledger of ledgers) ledger.expire(now);
        break;
      default: {
        const _exhaustive: never = op;
        throw new Error(`unhandled ${JSON.stringify(_exhaustive)}`);
      }
    }
    checkLedgers();
    for (const ledger of ledgers) expect(state.account(ledger.accountId)?.unreflectedHeldCredits ?? 0).toBeGreaterThanOrEqual(0);
  }
  // Drain everything: the bound must hold at the end too.
  for (const ledger of ledgers) {
    while (ledger.inbox.length > 0) ledger.processNext();
    deliverBalances(ledger, true);
    deliverReserved(ledger, true);
  }
  checkLedgers();
  return { admitted, factor };
}

describe('admission against a reference model', () => {
  it('never exceeds a protective limit or an allowance window, and overshoot stays within actual − estimated', () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 150 }), multipliersArb, fc.tuple(fc.integer({ min: 0, max: 500 }), fc.integer({ min: 0, max: 500 })), (ops, multipliers, credits) => {
        const { admitted, factor } = runModel(ops, multipliers, credits);
        expectAdmittedWithinLimits(admitted, plans, ACCOUNTS, USERS, factor);
      }),
      { numRuns: 600 },
    );
  });

  it('a rejection by a protective limit is exact: retrying after retryAfterMs passes them, 1 ms earlier does not', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 60 }), multipliersArb, fc.nat(1), fc.nat(1), fc.integer({ min: 0, max: 40 }), (ops, multipliers, account, user, size) => {
        const state = newState();
        for (const a of ACCOUNTS) state.applyBalance({ accountId: a.accountId, plan: a.plan, version: 1, availableCredits: 1_000_000 });
        for (const a of ACCOUNTS) for (const u of USERS) state.applyReputation(a.accountId, u, multipliers.reputation);
        for (const a of ACCOUNTS) state.applyLimits('sora-2', a.plan, 'standard', multipliers.load);
        let now = T0;
        let id = 0;
        for (const op of ops) {
          if (op.kind === 'decide') {
            now += op.gapMs;
            state.decide(request({ ...op, model: 'sora-2', priority: 'standard' }, ++id), now);
          } else if (op.kind === 'advance') {
            now += op.ms;
          }
        }
        const probe = request({ kind: 'decide', account, user, model: 'sora-2', size, priority: 'standard', gapMs: 0 }, ++id);
        const d = asDecision(state.decide(probe, now));
        if (d.decidedBy !== 'protective_limits') return;
        const retry = d.retryAfterMs ?? Number.NaN;
        expect(retry).toBeGreaterThan(0);
        // The probe changes nothing (it was rejected), so the state is the same for both retries.
        const early = asDecision(state.decide({ ...probe, admissionId: 'early' }, now + retry - 1));
        expect(early.decidedBy).toBe('protective_limits');
        const onTime = asDecision(state.decide({ ...probe, admissionId: 'on-time' }, now + retry));
        expect(onTime.decidedBy).not.toBe('protective_limits');
      }),
      { numRuns: 500 },
    );
  });
});
