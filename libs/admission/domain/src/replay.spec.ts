import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AdmissionState } from './admission-state';
import type { AdmissionRequest, Decision, ReplayableDecision } from './decision';
import { asDecision, costing, newState, withAccount } from './spec-support';

const T = 1_700_000_000_000;
const MIN = 60_000;

function replayable(d: Decision): ReplayableDecision {
  return {
    decision: d.decision,
    admissionId: d.admissionId,
    accountId: d.accountId,
    userId: d.userId,
    model: d.model,
    priority: d.priority,
    family: d.family,
    plan: d.plan,
    estimatedCredits: d.estimatedCredits,
    fundedBy: d.fundedBy,
    heldCredits: d.heldCredits,
    reservationExpiresAtMs: d.reservationExpiresAtMs,
    decidedAtMs: d.decidedAtMs,
  };
}

/** Everything the live state saw, in order, as restart recovery would read it back from Kafka. */
type Logged =
  | { kind: 'decided'; decision: Decision }
  | { kind: 'completed'; admissionId: string; actualCredits: number }
  | { kind: 'balance'; accountId: string; version: number; availableCredits: number }
  | { kind: 'reserved'; admissionId: string; version: number }
  | { kind: 'tick'; nowMs: number };

function replayInto(state: AdmissionState, log: readonly Logged[]): void {
  for (const entry of log) {
    if (entry.kind === 'decided') state.replayDecision(replayable(entry.decision), entry.decision.decidedAtMs);
    else if (entry.kind === 'completed') state.applyCompletion(entry.admissionId, entry.actualCredits, 'succeeded');
    else if (entry.kind === 'balance') state.applyBalance(entry);
    else if (entry.kind === 'reserved') state.applyLedgerReserved(entry.admissionId, entry.version);
    else state.expire(entry.nowMs);
  }
}

const stepArb = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('decide' as const), account: fc.constantFrom('acct-basic', 'acct-payg'), user: fc.constantFrom('u-1', 'u-2'), credits: fc.integer({ min: 0, max: 12 }).map((n) => n * 10), gapMs: fc.integer({ min: 0, max: 20_000 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('complete' as const), pick: fc.nat(), fraction: fc.double({ min: 0, max: 1.5, noNaN: true }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('reserve' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('balance' as const), account: fc.constantFrom('acct-basic', 'acct-payg'), credits: fc.integer({ min: 0, max: 500 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 15 * MIN }) }) },
);

describe('replayDecision', () => {
  it('replaying the log in order rebuilds a state that decides exactly like the live one', () => {
    fc.assert(
      fc.property(fc.array(stepArb, { maxLength: 80 }), fc.array(fc.record({ account: fc.constantFrom('acct-basic', 'acct-payg'), user: fc.constantFrom('u-1', 'u-2', 'u-3'), credits: fc.integer({ min: 0, max: 200 }) }), { minLength: 1, maxLength: 6 }), (steps, probes) => {
        const live = newState();
        const log: Logged[] = [];
        let version = 1;
        const balance = (accountId: string, availableCredits: number, plan?: string) => {
          version++;
          live.applyBalance({ accountId, version, availableCredits, ...(plan === undefined ? {} : { plan }) });
          log.push({ kind: 'balance', accountId, version, availableCredits });
        };
        const opening: Logged[] = [];
        for (const [accountId, plan] of [['acct-basic', 'basic'], ['acct-payg', 'payg']] as const) {
          version++;
          live.applyBalance({ accountId, version, availableCredits: 300, plan });
          opening.push({ kind: 'balance', accountId, version, availableCredits: 300 });
        }
        let now = T;
        let id = 0;
        const admitted: Decision[] = [];
        for (const step of steps) {
          if (step.kind === 'decide') {
            now += step.gapMs;
            const d = asDecision(live.decide(costing(step.credits, { accountId: step.account, userId: step.user, admissionId: `a-${++id}` }), now));
            log.push(d.decision === 'admitted' ? { kind: 'decided', decision: d } : { kind: 'tick', nowMs: now });
            if (d.decision === 'admitted') admitted.push(d);
          } else if (step.kind === 'complete' && admitted.length > 0) {
            const d = admitted[step.pick % admitted.length] as Decision;
            const actualCredits = Math.floor(d.estimatedCredits * step.fraction);
            // Every completion is on the topic, duplicates included.
            live.applyCompletion(d.admissionId, actualCredits, 'succeeded');
            log.push({ kind: 'completed', admissionId: d.admissionId, actualCredits });
          } else if (step.kind === 'reserve' && admitted.length > 0) {
            const d = admitted[step.pick % admitted.length] as Decision;
            version++;
            live.applyLedgerReserved(d.admissionId, version);
            log.push({ kind: 'reserved', admissionId: d.admissionId, version });
          } else if (step.kind === 'balance') {
            balance(step.account, step.credits);
          } else if (step.kind === 'advance') {
            now += step.ms;
            live.expire(now);
            log.push({ kind: 'tick', nowMs: now });
          }
        }

        const recovered = newState();
        recovered.applyBalance({ accountId: 'acct-basic', version: 0, availableCredits: 0, plan: 'basic' });
        recovered.applyBalance({ accountId: 'acct-payg', version: 0, availableCredits: 0, plan: 'payg' });
        replayInto(recovered, [...opening, ...log]);

        expect(recovered.stats()).toEqual(live.stats());
        for (const accountId of ['acct-basic', 'acct-payg']) expect(recovered.account(accountId)).toEqual(live.account(accountId));
        for (const [i, p] of probes.entries()) {
          const request: AdmissionRequest = costing(p.credits, { accountId: p.account, userId: p.user, admissionId: `probe-${i}` });
          expect(asDecision(recovered.decide(request, now))).toEqual(asDecision(live.decide(request, now)));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('replaying the same decision twice changes nothing the second time', () => {
    const live = withAccount(newState(), 'acct-1', 'payg', 100);
    const d = asDecision(live.decide(costing(30), T));
    const recovered = withAccount(newState(), 'acct-1', 'payg', 100);
    expect(recovered.replayDecision(replayable(d), T)).toBe('applied');
    expect(recovered.replayDecision(replayable(d), T)).toBe('stale');
    expect(recovered.account('acct-1')).toEqual(live.account('acct-1'));
  });

  it('a rejected decision has no effects to replay', () => {
    const state = withAccount(newState(), 'acct-1', 'payg', 0);
    const d = asDecision(state.decide(costing(30), T));
    expect(d.decision).toBe('rejected');
    state.replayDecision(replayable(d), T);
    expect(state.stats().openAdmissions).toBe(0);
  });

  it('a decision whose reservation expired before the restart keeps only its allowance usage', () => {
    const live = withAccount(newState(), 'acct-1', 'basic', 0);
    const d = asDecision(live.decide(costing(70), T));
    const recovered = withAccount(newState(), 'acct-1', 'basic', 0);
    recovered.replayDecision(replayable(d), T + 30 * MIN);
    expect(recovered.stats().openAdmissions).toBe(0);
    expect(recovered.slotsInUse('acct-1', 'u-1')).toBe(0);
    expect(asDecision(recovered.decide(costing(50), T + 30 * MIN)).fundedBy).toEqual([]);
  });

  it('a completion read before its decision is applied when the decision is replayed', () => {
    const live = withAccount(newState(), 'acct-1', 'basic', 0);
    const d = asDecision(live.decide(costing(70), T));
    const recovered = withAccount(newState(), 'acct-1', 'basic', 0);
    expect(recovered.applyCompletion(d.admissionId, 20, 'succeeded').outcome).toBe('unknown');
    recovered.replayDecision(replayable(d), T);
    expect(recovered.slotsInUse('acct-1', 'u-1')).toBe(0);
    expect(asDecision(recovered.decide(costing(80), T)).fundedBy).toEqual([{ source: 'allowance', window: '5h', credits: 80 }]);
  });

  it('a completion read before a decision whose reservation has run out since: its hold counts until the balance shows it, as live', () => {
    // A standby reads completions and decisions from different topics, and may apply a decision late.
    const live = withAccount(newState(), 'acct-1', 'payg', 100);
    const d = asDecision(live.decide(costing(30), T));
    live.applyCompletion(d.admissionId, 20, 'succeeded');
    live.expire(T + 30 * MIN);
    const standby = withAccount(newState(), 'acct-1', 'payg', 100);
    standby.applyCompletion(d.admissionId, 20, 'succeeded');
    standby.replayDecision(replayable(d), T + 30 * MIN);
    // The ledger settles (charges) a completed request instead of expiring its reservation: until the balance says so,
    // the 30 held credits are not spendable.
    expect(standby.account('acct-1')?.availableCredits).toBe(70);
    expect(standby.account('acct-1')).toEqual(live.account('acct-1'));
    expect(standby.stats().earlyCompletions).toBe(0);
  });

  it('a completion read before a decision whose reservation has run out since: its allowance usage is the actual cost, as live', () => {
    const live = withAccount(newState(), 'acct-1', 'basic', 0);
    const d = asDecision(live.decide(costing(70), T));
    live.applyCompletion(d.admissionId, 20, 'succeeded');
    const standby = withAccount(newState(), 'acct-1', 'basic', 0);
    standby.applyCompletion(d.admissionId, 20, 'succeeded');
    standby.replayDecision(replayable(d), T + 30 * MIN);
    // 20 of the 5 h window's 100 credits used, not 70: an 80-credit request is still paid by allowance.
    const probe = costing(80);
    expect(asDecision(live.decide(probe, T + 30 * MIN)).fundedBy).toEqual([{ source: 'allowance', window: '5h', credits: 80 }]);
    expect(asDecision(standby.decide(probe, T + 30 * MIN)).fundedBy).toEqual([{ source: 'allowance', window: '5h', credits: 80 }]);
  });

  it('a decision applied after its reservation ran out, then its completion: hold and allowance end as live', () => {
    for (const [plan, credits, available] of [['payg', 30, 70], ['basic', 70, 0]] as const) {
      const live = withAccount(newState(), 'acct-1', plan, 100);
      const d = asDecision(live.decide(costing(credits), T));
      live.applyCompletion(d.admissionId, 20, 'succeeded');
      live.expire(T + 30 * MIN);
      const standby = withAccount(newState(), 'acct-1', plan, 100);
      standby.replayDecision(replayable(d), T + 30 * MIN);
      expect(standby.applyCompletion(d.admissionId, 20, 'succeeded').outcome).toBe('completed');
      expect(standby.account('acct-1')).toEqual(live.account('acct-1'));
      if (plan === 'payg') expect(standby.account('acct-1')?.availableCredits).toBe(available);
      const probe = costing(80);
      expect(asDecision(standby.decide(probe, T + 30 * MIN)).fundedBy).toEqual(asDecision(live.decide(probe, T + 30 * MIN)).fundedBy);
    }
  });

  it('an admission whose reservation ran out here before its completion was read: hold and allowance end as live', () => {
    for (const [plan, credits] of [['payg', 30], ['basic', 70]] as const) {
      const live = withAccount(newState(), 'acct-1', plan, 100);
      const d = asDecision(live.decide(costing(credits), T));
      live.applyCompletion(d.admissionId, 20, 'succeeded');
      live.expire(T + 30 * MIN);
      const standby = withAccount(newState(), 'acct-1', plan, 100);
      standby.replayDecision(replayable(d), T);
      standby.expire(T + 30 * MIN);
      expect(standby.applyCompletion(d.admissionId, 20, 'succeeded').outcome).toBe('completed');
      expect(standby.account('acct-1')).toEqual(live.account('acct-1'));
      const probe = costing(80);
      expect(asDecision(standby.decide(probe, T + 30 * MIN)).fundedBy).toEqual(asDecision(live.decide(probe, T + 30 * MIN)).fundedBy);
    }
  });

  it('rejects a decision event with impossible numbers', () => {
    const state = newState();
    const d = { ...replayable(asDecision(withAccount(newState(), 'acct-1', 'payg', 100).decide(costing(30), T))), estimatedCredits: -1 };
    expect(state.replayDecision(d, T)).toBe('invalid');
  });
});
