import { describe, expect, it } from 'vitest';
import { asDecision, costing, newState, withAccount } from './spec-support';

const T = 1_700_000_000_000;
const MIN = 60_000;

/** A payg account with 100 credits at ledger version 1, and one admission holding 60. */
function withHold() {
  const state = withAccount(newState(), 'acct-1', 'payg', 100, 1);
  const d = asDecision(state.decide(costing(60), T));
  expect(d.heldCredits).toBe(60);
  return { state, admissionId: d.admissionId };
}

const available = (state: ReturnType<typeof newState>) => state.account('acct-1')?.availableCredits;

describe('credits: the ledger balance seen, minus holds it does not reflect yet', () => {
  it('given a hold, then it counts against the balance until the ledger reflects it', () => {
    const { state } = withHold();
    expect(available(state)).toBe(40);
    expect(asDecision(state.decide(costing(50), T)).reason).toBe('insufficient_credits');
  });

  it('given the reservation (v2) and then the balance at v2, then the hold is counted exactly once throughout', () => {
    const { state, admissionId } = withHold();
    expect(state.applyLedgerReserved(admissionId, 2)).toBe('applied');
    expect(available(state)).toBe(40); // balance seen is still v1: the hold still counts
    state.applyBalance({ accountId: 'acct-1', version: 2, availableCredits: 40 });
    expect(available(state)).toBe(40);
    expect(state.account('acct-1')?.unreflectedHeldCredits).toBe(0);
  });

  it('given the balance at v2 before the reservation event, then the hold is counted twice (conservative) until it arrives, never forgotten', () => {
    const { state, admissionId } = withHold();
    state.applyBalance({ accountId: 'acct-1', version: 2, availableCredits: 40 });
    expect(available(state)).toBe(-20);
    state.applyLedgerReserved(admissionId, 2);
    expect(available(state)).toBe(40);
  });

  it('given a balance older than the reservation, then the hold keeps counting', () => {
    const { state, admissionId } = withHold();
    state.applyLedgerReserved(admissionId, 5);
    state.applyBalance({ accountId: 'acct-1', version: 4, availableCredits: 100 });
    expect(available(state)).toBe(40);
    state.applyBalance({ accountId: 'acct-1', version: 5, availableCredits: 40 });
    expect(available(state)).toBe(40);
  });

  it('given a newer balance that does not include the hold yet (a grant), then the hold keeps counting', () => {
    const { state } = withHold();
    state.applyBalance({ accountId: 'acct-1', version: 2, availableCredits: 150 }); // +50 granted; the decision not reserved yet
    expect(available(state)).toBe(90);
  });

  it('given a stale or repeated balance, then it is ignored', () => {
    const state = withAccount(newState(), 'acct-1', 'payg', 100, 3);
    expect(state.applyBalance({ accountId: 'acct-1', version: 2, availableCredits: 999 })).toBe('stale');
    expect(state.applyBalance({ accountId: 'acct-1', version: 3, availableCredits: 999 })).toBe('stale');
    expect(available(state)).toBe(100);
  });

  it('given the reservation expires before the ledger reflects it, then the hold ends at its expiry', () => {
    const { state } = withHold();
    expect(state.expire(T + 10 * MIN - 1)).toBe(0);
    expect(available(state)).toBe(40);
    expect(state.expire(T + 10 * MIN)).toBe(1);
    expect(available(state)).toBe(100);
    expect(state.stats().openAdmissions).toBe(0);
  });

  it('given a completion before the ledger reflects the hold, then the hold still counts (the ledger settles it)', () => {
    const { state, admissionId } = withHold();
    state.applyCompletion(admissionId, 30, 'succeeded');
    expect(available(state)).toBe(40);
    expect(state.slotsInUse('acct-1', 'u-1')).toBe(0);
    state.applyLedgerReserved(admissionId, 2);
    state.applyBalance({ accountId: 'acct-1', version: 3, availableCredits: 70 }); // reserved at v2, settled at v3
    expect(available(state)).toBe(70);
    expect(state.stats().openAdmissions).toBe(0);
  });

  it('given a completed request whose hold the ledger has not reflected, then the hold outlives the reservation expiry (the ledger settles, not expires, it)', () => {
    const { state, admissionId } = withHold();
    state.applyCompletion(admissionId, 60, 'succeeded');
    state.expire(T + 10 * MIN);
    expect(available(state)).toBe(40);
    state.expire(T + 10 * MIN + 24 * 60 * MIN - 1);
    expect(available(state)).toBe(40);
    // A day of ledger lag later it is dropped, so a reservation the ledger never reports cannot pin credits forever.
    state.expire(T + 10 * MIN + 24 * 60 * MIN);
    expect(available(state)).toBe(100);
    expect(state.stats().openAdmissions).toBe(0);
  });

  it('given the reservation event before the decision is known (replay order), then it is applied when the decision is', () => {
    const state = withAccount(newState(), 'acct-1', 'payg', 40, 2);
    expect(state.applyLedgerReserved('adm-past', 2)).toBe('deferred');
    state.replayDecision(
      {
        decision: 'admitted',
        admissionId: 'adm-past',
        accountId: 'acct-1',
        userId: 'u-1',
        model: 'sora-2',
        priority: 'standard',
        plan: 'payg',
        estimatedCredits: 60,
        fundedBy: [{ source: 'credits', credits: 60 }],
        heldCredits: 60,
        reservationExpiresAtMs: T + 10 * MIN,
        decidedAtMs: T,
      },
      T + 1_000,
    );
    expect(available(state)).toBe(40);
    expect(state.slotsInUse('acct-1', 'u-1')).toBe(1);
    expect(state.stats().earlyReservations).toBe(0);
  });

  it('remembers early reservations only up to its named maximum, oldest first out', () => {
    const state = newState({ capacity: { openAdmissionsMax: 10, accountsMax: 10, usersPerAccountMax: 10, earlyReservationsMax: 2 } });
    for (const id of ['a', 'b', 'c']) state.applyLedgerReserved(id, 1);
    expect(state.stats().earlyReservations).toBe(2);
  });

  it('rejects invalid ledger input', () => {
    const state = newState();
    expect(state.applyBalance({ accountId: 'acct-1', version: -1, availableCredits: 1 })).toBe('invalid');
    expect(state.applyBalance({ accountId: 'acct-1', version: 1, availableCredits: 1.5 })).toBe('invalid');
    expect(state.applyLedgerReserved('adm', Number.NaN)).toBe('invalid');
  });

  it('a balance event with a new plan switches the plan; windows of the same length keep their usage', () => {
    const state = withAccount(newState(), 'acct-1', 'basic', 0, 1);
    asDecision(state.decide(costing(90), T)); // 90 of the 5h video allowance
    state.applyBalance({ accountId: 'acct-1', version: 2, availableCredits: 0, plan: 'big' }); // big: 500 per 1h, no 5h window
    const d = asDecision(state.decide(costing(100, { userId: 'u-2' }), T));
    expect(d.plan).toBe('big');
    expect(d.fundedBy).toEqual([{ source: 'allowance', window: '1h', credits: 100 }]);
    state.applyBalance({ accountId: 'acct-1', version: 3, availableCredits: 0, plan: 'basic' });
    // basic's 5h window was dropped while on big, so it starts empty again; big's usage is not basic's.
    expect(asDecision(state.decide(costing(100, { userId: 'u-3' }), T)).fundedBy).toEqual([{ source: 'allowance', window: '5h', credits: 100 }]);
  });
});

describe('completion', () => {
  it('frees the slot, keeps the allowance actually used, and reports the split', () => {
    const state = withAccount(newState(), 'acct-1', 'basic', 1000);
    const d = asDecision(state.decide(costing(80), T)); // allowance 80
    expect(state.applyCompletion(d.admissionId, 50, 'succeeded')).toEqual({
      outcome: 'completed',
      admissionId: d.admissionId,
      accountId: 'acct-1',
      estimatedCredits: 80,
      actualCredits: 50,
      allowanceCredits: 50,
      creditsCharged: 0,
      overshootCredits: 0,
    });
    expect(state.slotsInUse('acct-1', 'u-1')).toBe(0);
    const next = asDecision(state.decide(costing(100), T));
    expect(next.fundedBy[0]).toEqual({ source: 'allowance', window: '5h', credits: 50 });
  });

  it('a failed request with zero meters gives the whole allowance back', () => {
    const state = withAccount(newState(), 'acct-1', 'basic', 0);
    const d = asDecision(state.decide(costing(100), T));
    state.applyCompletion(d.admissionId, 0, 'failed');
    expect(asDecision(state.decide(costing(100), T)).fundedBy).toEqual([{ source: 'allowance', window: '5h', credits: 100 }]);
  });

  it('costing more than estimated: the allowance part stays, the rest is charged to credits and reported as overshoot', () => {
    const state = withAccount(newState(), 'acct-1', 'basic', 1000);
    const d = asDecision(state.decide(costing(120), T)); // allowance 100, credits 20
    expect(state.applyCompletion(d.admissionId, 150, 'succeeded')).toMatchObject({ allowanceCredits: 100, creditsCharged: 50, overshootCredits: 30 });
  });

  it('completing twice, or an unknown admission, is a no-op', () => {
    const state = withAccount(newState(), 'acct-1', 'payg', 1000);
    const d = asDecision(state.decide(costing(10), T));
    state.applyCompletion(d.admissionId, 10, 'succeeded');
    expect(state.applyCompletion(d.admissionId, 10, 'succeeded')).toEqual({ outcome: 'unknown', admissionId: d.admissionId });
    expect(state.applyCompletion('never', 10, 'succeeded')).toEqual({ outcome: 'unknown', admissionId: 'never' });
  });

  it('rejects an actual cost that is not a whole non-negative number of credits', () => {
    const state = newState();
    expect(state.applyCompletion('adm', -1, 'succeeded').outcome).toBe('invalid');
    expect(state.applyCompletion('adm', 1.5, 'succeeded').outcome).toBe('invalid');
  });
});

describe('inputs from load-feedback', () => {
  it.each([Number.NaN, -0.1, 101, Number.POSITIVE_INFINITY])('rejects the factor %d', (factor) => {
    const state = newState();
    expect(state.applyLimits('sora-2', 'payg', 'standard', factor)).toBe('invalid');
    expect(state.applyReputation('acct-1', 'u-1', factor)).toBe('invalid');
  });

  it('a default reputation for an unknown user creates no state', () => {
    const state = newState();
    expect(state.applyReputation('acct-1', 'u-1', 1)).toBe('applied');
    expect(state.stats().accounts).toBe(0);
  });
});

describe('compact', () => {
  it('drops users and accounts with nothing left in them, and keeps those with a ledger balance or open work', () => {
    const state = withAccount(newState(), 'acct-1', 'payg', 1000);
    const d = asDecision(state.decide(costing(10, { accountId: 'acct-1' }), T));
    state.applyReputation('acct-2', 'u-9', 0.5);
    state.applyReputation('acct-2', 'u-9', 1);
    // acct-2 and its user are back to defaults; acct-1's user is in flight.
    expect(state.compact(T)).toBe(2);
    state.applyCompletion(d.admissionId, 10, 'succeeded');
    // Its requests-per-minute debt is repaid a minute later (at any limit); acct-1 keeps its balance.
    expect(state.compact(T + 30_000)).toBe(0);
    expect(state.compact(T + 2 * MIN)).toBe(1);
    expect(state.stats().accounts).toBe(1);
  });
});

describe('revoke: an admission whose decision never became durable', () => {
  it('given a hold and a slot, when revoked, then both and the allowance are given back and the rate charge stays', () => {
    const state = withAccount(newState(), 'acct-1', 'basic', 100, 1);
    const d = asDecision(state.decide(costing(150), T)); // 100 from the 5h allowance, 50 held
    expect(d.heldCredits).toBe(50);
    expect(state.slotsInUse('acct-1', 'u-1')).toBe(1);
    expect(state.revoke(d.admissionId)).toBe(true);
    expect(state.slotsInUse('acct-1', 'u-1')).toBe(0);
    expect(available(state)).toBe(100);
    const again = asDecision(state.decide(costing(100), T));
    expect(again.fundedBy).toEqual([{ source: 'allowance', window: '5h', credits: 100 }]);
    // basic allows 3 requests per minute: the revoked attempt still counts as one of them.
    expect(asDecision(state.decide(costing(10), T)).decision).toBe('admitted');
    expect(asDecision(state.decide(costing(10), T)).reason).toBe('rate_limited');
  });

  it('given an unknown admission, then revoke changes nothing', () => {
    const { state } = withHold();
    expect(state.revoke('adm-nope')).toBe(false);
    expect(available(state)).toBe(40);
  });
});
