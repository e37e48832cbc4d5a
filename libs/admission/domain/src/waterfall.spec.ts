import { describe, expect, it } from 'vitest';
import type { AdmissionState } from './admission-state';
import type { AdmissionRequest, Decision } from './decision';
import { asDecision, costing, newState, video, withAccount } from './spec-support';
import { effectiveLimit } from './waterfall';

const T = 1_700_000_000_000;
const MIN = 60_000;

/** Admits `request` at `at` and fails the test if it is not admitted. */
function admit(state: AdmissionState, request: AdmissionRequest, at = T): Decision {
  const d = asDecision(state.decide(request, at));
  if (d.decision !== 'admitted') throw new Error(`setup request was ${d.reason}`);
  return d;
}

/** Admits then completes at the estimate: uses rate limits and allowance, frees the slot. */
function admitAndComplete(state: AdmissionState, request: AdmissionRequest, at = T): Decision {
  const d = admit(state, request, at);
  state.applyCompletion(d.admissionId, d.estimatedCredits, 'succeeded');
  return d;
}

interface Scenario {
  readonly name: string;
  readonly given: (state: AdmissionState) => void;
  readonly when: AdmissionRequest;
  readonly at?: number;
  readonly then: Partial<Decision>;
}

// Test plans (spec-support.ts): basic = 3 req/min, 2 concurrent, 1000 credits/min, video allowance
// 100 per 5h and 150 per 7d; payg = 5 req/min, 3 concurrent, 500 credits/min, no allowance. 10 min holds.
const scenarios: Scenario[] = [
  {
    name: 'the allowance covers the whole cost',
    given: (s) => withAccount(s, 'acct-1', 'basic', 0),
    when: costing(50),
    then: {
      decision: 'admitted',
      reason: null,
      decidedBy: 'allowance',
      estimatedCredits: 50,
      fundedBy: [{ source: 'allowance', window: '5h', credits: 50 }],
      heldCredits: 0,
      reservationExpiresAtMs: T + 10 * MIN,
      retryAfterMs: null,
      availableCredits: null,
      plan: 'basic',
      family: 'video',
      priceBookVersion: 'test-1',
    },
  },
  {
    name: 'the allowance pays what remains and credits the rest',
    given: (s) => {
      withAccount(s, 'acct-1', 'basic', 1000);
      admitAndComplete(s, costing(80, { userId: 'u-2' }));
    },
    when: costing(50),
    then: {
      decision: 'admitted',
      decidedBy: 'credits',
      fundedBy: [
        { source: 'allowance', window: '5h', credits: 20 },
        { source: 'credits', credits: 30 },
      ],
      heldCredits: 30,
      availableCredits: 1000,
    },
  },
  {
    name: 'the tightest window (7d, after the 5h window has rolled over) limits the allowance part',
    given: (s) => {
      withAccount(s, 'acct-1', 'basic', 1000);
      admitAndComplete(s, costing(100), T - 6 * 60 * MIN);
    },
    when: costing(80),
    then: {
      decision: 'admitted',
      fundedBy: [
        { source: 'allowance', window: '7d', credits: 50 },
        { source: 'credits', credits: 30 },
      ],
    },
  },
  {
    name: 'a plan without allowance pays with credits',
    given: (s) => withAccount(s, 'acct-1', 'payg', 100),
    when: costing(60),
    then: { decision: 'admitted', decidedBy: 'credits', fundedBy: [{ source: 'credits', credits: 60 }], heldCredits: 60, availableCredits: 100 },
  },
  {
    name: 'a request that costs nothing is admitted by the allowance layer with nothing to fund',
    given: (s) => withAccount(s, 'acct-1', 'payg', 0),
    when: video({ seconds: 0 }),
    then: { decision: 'admitted', decidedBy: 'allowance', estimatedCredits: 0, fundedBy: [], heldCredits: 0 },
  },
  {
    name: 'credits do not cover the cost',
    given: (s) => withAccount(s, 'acct-1', 'payg', 50),
    when: costing(60),
    then: {
      decision: 'rejected',
      reason: 'insufficient_credits',
      decidedBy: 'credits',
      estimatedCredits: 60,
      availableCredits: 50,
      fundedBy: [],
      heldCredits: 0,
      reservationExpiresAtMs: null,
      retryAfterMs: null,
    },
  },
  {
    name: 'the allowance covers part and credits cannot cover the rest',
    given: (s) => withAccount(s, 'acct-1', 'basic', 10),
    when: costing(120),
    then: { decision: 'rejected', reason: 'insufficient_credits', decidedBy: 'credits', availableCredits: 10 },
  },
  {
    name: 'an account the ledger has not reported is payg with no balance',
    given: () => undefined,
    when: costing(10, { accountId: 'acct-new' }),
    then: { decision: 'rejected', reason: 'insufficient_credits', plan: 'payg', availableCredits: 0 },
  },
  {
    name: 'the per-user requests per minute are used up',
    given: (s) => {
      withAccount(s, 'acct-1', 'basic', 1000);
      for (let i = 0; i < 3; i++) admitAndComplete(s, costing(10));
    },
    when: costing(10),
    then: { decision: 'rejected', reason: 'rate_limited', decidedBy: 'protective_limits', retryAfterMs: 20_000, fundedBy: [], availableCredits: null },
  },
  {
    name: 'the per-user concurrency is used up (retry when the oldest slot expires)',
    given: (s) => {
      withAccount(s, 'acct-1', 'basic', 1000);
      admit(s, costing(10), T);
      admit(s, costing(10), T + 1_000);
    },
    when: costing(10),
    at: T + 2_000,
    then: { decision: 'rejected', reason: 'concurrency_limited', decidedBy: 'protective_limits', retryAfterMs: 10 * MIN - 2_000 },
  },
  {
    name: 'the per-account credits per minute are used up (by another user)',
    given: (s) => {
      withAccount(s, 'acct-1', 'payg', 10_000);
      admit(s, costing(400, { userId: 'u-2' }));
    },
    when: costing(200),
    then: { decision: 'rejected', reason: 'rate_limited', decidedBy: 'protective_limits', retryAfterMs: 12_000 },
  },
  {
    name: 'the load multiplier is 0: the request is shed',
    given: (s) => {
      withAccount(s, 'acct-1', 'payg', 1000);
      s.applyLimits('sora-2', 'payg', 'standard', 0);
    },
    when: costing(10),
    then: { decision: 'rejected', reason: 'load_shed', decidedBy: 'load_shedding', retryAfterMs: 15_000, multipliers: { load: 0, reputation: 1 } },
  },
  {
    name: 'a load multiplier of 0.5 halves the per-user rate (3 → 1 per minute)',
    given: (s) => {
      withAccount(s, 'acct-1', 'basic', 1000);
      s.applyLimits('sora-2', 'basic', 'standard', 0.5);
      admitAndComplete(s, costing(10));
    },
    when: costing(10),
    then: { decision: 'rejected', reason: 'rate_limited', retryAfterMs: MIN, multipliers: { load: 0.5, reputation: 1 } },
  },
  {
    name: 'shedding batch leaves standard alone',
    given: (s) => {
      withAccount(s, 'acct-1', 'payg', 1000);
      s.applyLimits('sora-2', 'payg', 'batch', 0);
    },
    when: costing(10),
    then: { decision: 'admitted', multipliers: { load: 1, reputation: 1 } },
  },
  {
    name: 'a reputation of 2 doubles the per-user rate (3 → 6 per minute)',
    given: (s) => {
      withAccount(s, 'acct-1', 'basic', 1000);
      s.applyReputation('acct-1', 'u-1', 2);
      for (let i = 0; i < 5; i++) admitAndComplete(s, costing(10));
    },
    when: costing(10),
    then: { decision: 'admitted', multipliers: { load: 1, reputation: 2 } },
  },
];

// A multiplier of 0 is answered load_shed whatever the other layers would say (CONTRACTS.md,
// "Idempotency and load shedding, made precise"): each row first puts the user past another layer,
// and the same request in an unshed state shows which answer the shed one outranks.
interface ShedRow {
  readonly name: string;
  readonly given: (state: AdmissionState) => void;
  readonly when: () => AdmissionRequest;
  /** The answer the same request gets when its class is not shed. */
  readonly unshed: Decision['reason'];
}
const shedPrecedence: ShedRow[] = [
  {
    name: 'over the per-user requests per minute',
    given: (s) => {
      withAccount(s, 'acct-1', 'basic', 1000);
      for (let i = 0; i < 3; i++) admitAndComplete(s, costing(10));
    },
    when: () => costing(10),
    unshed: 'rate_limited',
  },
  {
    name: 'with every concurrency slot in use',
    given: (s) => {
      withAccount(s, 'acct-1', 'basic', 1000);
      admit(s, costing(10));
      admit(s, costing(10));
    },
    when: () => costing(10),
    unshed: 'concurrency_limited',
  },
  {
    name: 'over the per-account credits per minute',
    given: (s) => {
      withAccount(s, 'acct-1', 'payg', 10_000);
      admit(s, costing(400, { userId: 'u-2' }));
    },
    when: () => costing(200),
    unshed: 'rate_limited',
  },
  {
    name: 'over requests, concurrency and credits per minute at once',
    given: (s) => {
      withAccount(s, 'acct-1', 'basic', 10_000);
      admitAndComplete(s, costing(10));
      admit(s, costing(600));
      admit(s, costing(300));
    },
    when: () => costing(200),
    unshed: 'rate_limited',
  },
  {
    name: 'without the credits to pay (no allowance, no balance)',
    given: (s) => withAccount(s, 'acct-1', 'payg', 0),
    when: () => costing(10),
    unshed: 'insufficient_credits',
  },
  {
    name: 'within every limit and able to pay',
    given: (s) => withAccount(s, 'acct-1', 'basic', 1000),
    when: () => costing(10),
    unshed: null,
  },
];

describe('a shed class is answered load_shed whatever the other limits say', () => {
  it.each(shedPrecedence)('given a user $name, at multiplier 0: load_shed; at 1: $unshed', ({ given, when, unshed }) => {
    const shed = newState();
    given(shed);
    shed.applyLimits('sora-2', 'basic', 'standard', 0);
    shed.applyLimits('sora-2', 'payg', 'standard', 0);
    const request = when();
    expect(asDecision(shed.decide(request, T))).toMatchObject({
      decision: 'rejected',
      reason: 'load_shed',
      decidedBy: 'load_shedding',
      retryAfterMs: 15_000,
      fundedBy: [],
      heldCredits: 0,
      multipliers: { load: 0, reputation: 1 },
    });

    const open = newState();
    given(open);
    expect(asDecision(open.decide({ ...request }, T)).reason).toBe(unshed);
  });
});

describe('the waterfall', () => {
  it.each(scenarios)('given $name, then the decision says so', ({ given, when, at, then }) => {
    const state = newState();
    given(state);
    expect(asDecision(state.decide(when, at ?? T))).toMatchObject(then);
  });

  it('reports every limit that applied, after the decision, and points the RateLimit headers at the requests limit', () => {
    const state = withAccount(newState(), 'acct-1', 'basic', 0);
    const d = asDecision(state.decide(costing(50), T));
    expect(d.limits).toEqual([
      { name: 'user.requests_per_minute', limit: 3, remaining: 2, resetMs: 20_000 },
      { name: 'user.concurrent_requests', limit: 2, remaining: 1, resetMs: 10 * MIN },
      { name: 'account.credits_per_minute', limit: 1000, remaining: 950, resetMs: 3_000 },
      { name: 'allowance.video.5h', limit: 100, remaining: 50, resetMs: expect.any(Number) },
      { name: 'allowance.video.7d', limit: 150, remaining: 100, resetMs: expect.any(Number) },
    ]);
    expect(d.limits[3]?.resetMs).toBeGreaterThanOrEqual(5 * 60 * MIN);
    expect(d.requestsLimit).toBe(d.limits[0]);
  });

  it('a rejection reports the limits as they stand without the request', () => {
    const state = withAccount(newState(), 'acct-1', 'payg', 0);
    const d = asDecision(state.decide(costing(50), T));
    expect(d.reason).toBe('insufficient_credits');
    expect(d.limits.map((l) => [l.name, l.remaining])).toEqual([
      ['user.requests_per_minute', 5],
      ['user.concurrent_requests', 3],
      ['account.credits_per_minute', 500],
    ]);
  });

  it('a rejection changes nothing: the same request decided again gets the same answer and no state appears', () => {
    const state = newState();
    const request = costing(10, { accountId: 'acct-x' });
    const first = asDecision(state.decide(request, T));
    const again = asDecision(state.decide({ ...request, admissionId: 'adm-again' }, T));
    expect({ ...again, admissionId: first.admissionId }).toEqual(first);
    expect(state.stats()).toEqual({ accounts: 0, openAdmissions: 0, earlyReservations: 0, earlyCompletions: 0 });
  });

  it('an admission records its effects: slot, hold, allowance and rates', () => {
    const state = withAccount(newState(), 'acct-1', 'basic', 1000);
    admit(state, costing(130));
    expect(state.slotsInUse('acct-1', 'u-1')).toBe(1);
    expect(state.account('acct-1')).toMatchObject({ availableCredits: 970, unreflectedHeldCredits: 30, openAdmissions: 1 });
    const next = asDecision(state.decide(costing(10, { userId: 'u-2' }), T));
    expect(next.limits.find((l) => l.name === 'allowance.video.5h')?.remaining).toBe(0);
    expect(next.limits.find((l) => l.name === 'account.credits_per_minute')?.remaining).toBe(1000 - 130 - 10);
  });
});

describe('invalid requests are errors, not decisions, and change nothing', () => {
  it.each([
    ['an unknown model', costing(10, { model: 'sora-3' }), 'ADMISSION.UNKNOWN_MODEL', 'model', 'unknown_model'],
    ['a negative estimate', video({ seconds: -1 }), 'ADMISSION.INVALID_ESTIMATE', 'estimate.meters.video_seconds', 'invalid_quantity'],
    [
      'a missing dimension',
      { ...video(), estimate: { meters: { video_seconds: 1 }, dimensions: {} } },
      'ADMISSION.INVALID_ESTIMATE',
      'estimate.dimensions.resolution',
      'missing_dimension',
    ],
    ['critical on a plan without it', costing(10, { priority: 'critical' }), 'ADMISSION.PRIORITY_NOT_ALLOWED', 'priority', null],
  ] as const)('given %s, then %s at %s', (_label, request, code, path, pricingError) => {
    const state = withAccount(newState(), 'acct-1', 'basic', 1000);
    expect(state.decide(request, T)).toEqual({ decision: 'error', code, path, message: expect.any(String), pricingError });
    expect(state.account('acct-1')?.openAdmissions).toBe(0);
  });

  it('given critical on a plan that allows it, then it is decided', () => {
    const state = withAccount(newState(), 'acct-1', 'big', 1000);
    expect(asDecision(state.decide(costing(10, { priority: 'critical' }), T)).decision).toBe('admitted');
  });

  it('given no unknownAccountPlan, then an account the ledger has not reported is ADMISSION.UNKNOWN_ACCOUNT', () => {
    const plans = `
defaults: { reservationTimeout: 10m, idempotencyTtl: 24h }
plans:
  payg: { requestsPerMinute: 5, concurrentRequests: 3, creditsPerMinute: 500, priorities: [standard], grant: { creditsPerPeriod: 0, period: monthly, rolloverCapCredits: 0 } }
`;
    const state = newState({}, plans);
    expect(state.decide(costing(10), T)).toMatchObject({ decision: 'error', code: 'ADMISSION.UNKNOWN_ACCOUNT', path: 'accountId' });
    state.applyBalance({ accountId: 'acct-1', plan: 'payg', version: 1, availableCredits: 100 });
    expect(asDecision(state.decide(costing(10), T)).decision).toBe('admitted');
  });

  it('given an account on a plan plans.yaml does not define, then ADMISSION.UNKNOWN_PLAN', () => {
    const state = newState();
    expect(state.applyBalance({ accountId: 'acct-1', plan: 'gold', version: 1, availableCredits: 100 })).toBe('unknown_plan');
    expect(state.decide(costing(10), T)).toMatchObject({ decision: 'error', code: 'ADMISSION.UNKNOWN_PLAN' });
  });

  it('given an admissionId already tracked, then ADMISSION.DUPLICATE_ADMISSION_ID', () => {
    const state = withAccount(newState(), 'acct-1', 'payg', 1000);
    const request = costing(10);
    admit(state, request);
    expect(state.decide({ ...request, requestId: 'other' }, T)).toMatchObject({ decision: 'error', code: 'ADMISSION.DUPLICATE_ADMISSION_ID' });
  });

  it('given increasing ids, then an older one still tracked is a duplicate and a newer one is not', () => {
    const state = withAccount(newState(), 'acct-1', 'payg', 1000);
    const older = costing(10, { admissionId: 'id-0001' });
    admit(state, older);
    admit(state, costing(10, { admissionId: 'id-0003', userId: 'u-2' }));
    expect(state.decide({ ...older, requestId: 'again' }, T)).toMatchObject({ code: 'ADMISSION.DUPLICATE_ADMISSION_ID' });
    expect(asDecision(state.decide(costing(10, { admissionId: 'id-0002', userId: 'u-3' }), T)).decision).toBe('admitted');
  });

  it.each([
    ['open admissions', { openAdmissionsMax: 1, accountsMax: 10, usersPerAccountMax: 10, earlyReservationsMax: 10 }, costing(10, { userId: 'u-2' })],
    ['accounts', { openAdmissionsMax: 10, accountsMax: 1, usersPerAccountMax: 10, earlyReservationsMax: 10 }, costing(10, { accountId: 'acct-2' })],
    ['users per account', { openAdmissionsMax: 10, accountsMax: 10, usersPerAccountMax: 1, earlyReservationsMax: 10 }, costing(10, { userId: 'u-2' })],
  ])('given the instance tracks as many %s as it may, then ADMISSION.CAPACITY_EXHAUSTED', (_label, capacity, request) => {
    const state = withAccount(newState({ capacity }), 'acct-1', 'payg', 1000);
    admit(state, costing(10));
    expect(state.decide(request, T)).toMatchObject({ decision: 'error', code: 'ADMISSION.CAPACITY_EXHAUSTED' });
  });
});

describe('effectiveLimit', () => {
  it.each([
    [10, 1, 10],
    [10, 0.7, 7], // 7.000000000000001 in float64
    [3, 0.5, 1],
    [2, 0.1, 1], // never below 1: closing is load shedding's job
    [10, 0.3 * 10, 30], // 3.0000000000000004
    [1_000_000_000, 100, 1_000_000_000], // clamped to the maximum
  ])('base %d × factor %d = %d', (base, factor, expected) => {
    expect(effectiveLimit(base, factor, 1_000_000_000)).toBe(expected);
  });
});
