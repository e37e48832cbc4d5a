import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Admitted, Rejected } from '@access/client';
import {
  PERSONAS,
  RateCap,
  Workload,
  accountsOf,
  admissionBody,
  classifyAnswer,
  completionBody,
  emptyStats,
  recordAnswer,
  seededRandom,
  workloadLimits,
  type PlannedRequest,
} from './workload';

const t0 = 1_800_000_000_000;
const idPattern = /^[A-Za-z0-9_.:-]{1,128}$/;

/** Everything the workload sends in the first `ms` milliseconds, polled every 100 ms like the driver. */
function firstRequests(ms: number, seed = 7): { workload: Workload; requests: PlannedRequest[] } {
  const workload = new Workload('run1', seed, t0);
  const requests: PlannedRequest[] = [];
  for (let now = t0; now <= t0 + ms; now += 100) requests.push(...workload.due(now));
  return { workload, requests };
}

const price = (r: PlannedRequest): number => {
  // The shipped price book (config/price-book.yaml), to check that the cast asks for what it should.
  if (r.model === 'sora-2') return Math.ceil((r.estimate.meters['video_seconds'] ?? 0) * 10 * ({ '480p': 0.5, '720p': 1, '1080p': 2 }[r.estimate.dimensions['resolution'] ?? ''] ?? NaN));
  return Math.ceil(((r.estimate.meters['input_tokens'] ?? 0) * 0.2 + (r.estimate.meters['output_tokens'] ?? 0) * 0.8) / 1000);
};

describe('the cast', () => {
  it('covers every plan, both models, every priority, abusive and critical users', () => {
    expect(new Set(PERSONAS.map((p) => p.plan))).toEqual(new Set(['free', 'plus', 'pro', 'enterprise', 'payg']));
    expect(new Set(PERSONAS.map((p) => p.model))).toEqual(new Set(['sora-2', 'codex-1']));
    expect(new Set(PERSONAS.map((p) => p.priority))).toEqual(new Set(['critical', 'standard', 'batch']));
    expect(PERSONAS.filter((p) => p.priority === 'critical').every((p) => p.plan === 'enterprise')).toBe(true);
    expect(PERSONAS.some((p) => !p.honorsRetryAfter)).toBe(true);
  });

  it('opens each account once, with valid ids and fixed grant ids (idempotent per run)', () => {
    const accounts = accountsOf('run1');
    expect(new Set(accounts.map((a) => a.accountId)).size).toBe(accounts.length);
    for (const a of accounts) {
      expect(a.accountId).toMatch(idPattern);
      for (const g of a.grants) expect(g.grantId).toMatch(idPattern);
    }
    expect(accountsOf('run1')).toEqual(accounts);
    expect(accounts.find((a) => a.accountId === 'sim-run1-broke')?.grants).toEqual([{ grantId: 'sim-run1-broke-g1', credits: 100, source: 'purchase' }]);
  });
});

describe('given the first two minutes of the workload', () => {
  const { requests, workload } = firstRequests(120_000);
  const of = (persona: string) => requests.filter((r) => r.persona === persona);

  it('then every persona sends something, and every body is valid for the contract', () => {
    for (const p of PERSONAS) expect(of(p.name).length, p.name).toBeGreaterThan(0);
    for (const r of requests) {
      expect(r.requestId).toMatch(idPattern);
      expect(r.userId).toMatch(idPattern);
      expect(admissionBody(r)).toMatchObject({ requestId: r.requestId, accountId: r.accountId, priority: r.priority });
    }
    expect(new Set(requests.map((r) => r.requestId)).size).toBe(requests.length);
  });

  it('then the abuser sends far more than the plus plan’s 60 requests per minute within 30 s, each done before the next (rate_limited, not concurrency)', () => {
    expect(of('plus-abuser').filter((r) => r.atMs < t0 + 30_000).length).toBeGreaterThan(90);
    expect(PERSONAS.find((p) => p.name === 'plus-abuser')!.runMs[1]).toBeLessThan(1_000);
  });

  it('then the creator starts more videos than its 3 slots before any can finish (concurrency_limited)', () => {
    const shortest = PERSONAS.find((p) => p.name === 'plus-video-creator')!.runMs[0];
    expect(of('plus-video-creator').filter((r) => r.atMs < t0 + shortest).length).toBeGreaterThan(3);
  });

  it.each([1, 2, 3, 4, 5, 6, 7, 8])('then, seed %i, the broke account sends a second request within 100 s that its 100 credits cannot cover (insufficient_credits)', (seed) => {
    const broke = firstRequests(100_000, seed).requests.filter((r) => r.persona === 'payg-broke');
    expect(broke.length).toBeGreaterThanOrEqual(2);
    // Whatever the first one costs (58..100), at most 42 remain: less than the cheapest request.
    for (const r of broke) expect(price(r)).toBeGreaterThanOrEqual(58);
    for (const r of broke) expect(price(r)).toBeLessThanOrEqual(100);
  });

  it('then the studio asks the sora-2 fleet (20 credits/s in npm start) for far more at batch priority (load_shed)', () => {
    const credits = of('pro-studio-batch').reduce((s, r) => s + price(r), 0);
    expect(credits / 120).toBeGreaterThan(3 * 20);
    expect(of('pro-studio-batch').every((r) => r.priority === 'batch')).toBe(true);
  });

  it.each([1, 2, 3, 4, 5, 6, 7, 8])('then, seed %i, the studio sends batch work at least every 10 s, so a shed class is asked soon after it reaches 0', (seed) => {
    const at = firstRequests(120_000, seed).requests.filter((r) => r.persona === 'pro-studio-batch').map((r) => r.atMs);
    expect(at.length).toBeGreaterThan(90);
    for (let i = 1; i < at.length; i++) expect(at[i]! - at[i - 1]!).toBeLessThan(10_000);
  });

  it('then payg requests exist (admitted by credits) and plus coders stay inside their allowance', () => {
    expect(of('payg-api').length).toBeGreaterThan(10);
    const teamCredits = of('plus-coders').reduce((s, r) => s + price(r), 0);
    expect(teamCredits).toBeLessThan(2_000); // the plus code allowance per 5 h
  });

  it('then arrivals come in time order and a completion plan is within bounds', () => {
    for (let i = 1; i < requests.length; i++) expect(requests[i]!.atMs).toBeGreaterThanOrEqual(requests[i - 1]!.atMs - 100);
    for (const r of requests.slice(0, 200)) {
      const plan = workload.completionOf(r);
      const persona = workload.personaOf(r);
      expect(plan.runMs).toBeGreaterThanOrEqual(persona.runMs[0]);
      expect(plan.runMs).toBeLessThanOrEqual(persona.runMs[1]);
      expect(Object.keys(plan.meters)).toEqual(Object.keys(r.estimate.meters));
      if (plan.status !== 'succeeded') for (const [k, v] of Object.entries(plan.meters)) expect(v).toBeLessThanOrEqual(r.estimate.meters[k]!);
    }
  });
});

describe('Workload', () => {
  it('is a function of its seed (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), (seed) => {
        const a = firstRequests(10_000, seed).requests.map((r) => [r.requestId, r.atMs, r.estimate]);
        const b = firstRequests(10_000, seed).requests.map((r) => [r.requestId, r.atMs, r.estimate]);
        expect(a).toEqual(b);
      }),
      { numRuns: 20 },
    );
  });

  it('skips arrivals of a stalled driver instead of flooding: at most catchUpMsMax of them', () => {
    const workload = new Workload('run1', 1, t0);
    const afterAnHour = workload.due(t0 + 3_600_000);
    const abuser = afterAnHour.filter((r) => r.persona === 'plus-abuser');
    expect(abuser.length).toBeLessThan(5 * (workloadLimits.catchUpMsMax / 1000) * 3);
    expect(afterAnHour.length).toBeLessThanOrEqual(workloadLimits.dueRequestsMax);
  });

  it('defers a user that honours Retry-After, not one that ignores it', () => {
    const workload = new Workload('run1', 3, t0);
    workload.deferUser('payg-api-u1', t0, 10_000);
    workload.deferUser('plus-abuser-u1', t0, 10_000);
    const first = workload.due(t0 + 9_900);
    expect(first.some((r) => r.userId === 'payg-api-u1')).toBe(false);
    expect(first.some((r) => r.userId === 'plus-abuser-u1')).toBe(true);
  });

  it('waits out at most retryAfterHonouredMsMax, however long the Retry-After (a 30-minute concurrency hint)', () => {
    const workload = new Workload('run1', 3, t0);
    workload.deferUser('payg-api-u1', t0, 30 * 60_000);
    const later = workload.due(t0 + workloadLimits.retryAfterHonouredMsMax + 60_000);
    expect(later.some((r) => r.userId === 'payg-api-u1')).toBe(true);
    expect(later.filter((r) => r.userId === 'payg-api-u1').every((r) => r.atMs >= t0 + workloadLimits.retryAfterHonouredMsMax)).toBe(true);
  });

  it('builds a completion body that carries the decision ids and the actual meters', () => {
    const { workload, requests } = firstRequests(5_000);
    const r = requests[0]!;
    const plan = workload.completionOf(r);
    expect(completionBody(r, plan, t0, t0 + plan.runMs)).toMatchObject({
      requestId: r.requestId,
      status: plan.status,
      meters: plan.meters,
      durationMs: plan.runMs,
      startedAt: new Date(t0).toISOString(),
    });
  });
});

describe('classifyAnswer', () => {
  const admitted = (extra: Partial<Admitted>): Admitted => ({
    decision: 'admitted', admissionId: 'a', requestId: 'r', estimatedCredits: 5, fundedBy: [], reservationExpiresAt: null, priceBookVersion: 'v', limits: [],
    rateLimit: { policies: [], limits: [] }, ...extra,
  });
  const rejected = (reason: Rejected['reason'], extra: Partial<Rejected> = {}): Rejected => ({
    decision: 'rejected', status: reason === 'insufficient_credits' ? 402 : 429, reason, code: 'C', detail: 'd', requestId: 'r', limits: [],
    rateLimit: { policies: [], limits: [] }, ...extra,
  });
  it.each([
    { name: 'decided by allowance', result: admitted({ decidedBy: 'allowance' }), outcome: 'admitted_allowance' },
    { name: 'decided by credits', result: admitted({ decidedBy: 'credits' }), outcome: 'admitted_credits' },
    { name: 'funded partly by credits', result: admitted({ fundedBy: [{ source: 'allowance', window: '5h', credits: 2 }, { source: 'credits', credits: 3 }] }), outcome: 'admitted_credits' },
    { name: 'funded by allowance', result: admitted({ fundedBy: [{ source: 'allowance', window: '5h', credits: 5 }] }), outcome: 'admitted_allowance' },
    { name: 'rate limited', result: rejected('rate_limited', { retryAfterMs: 1200 }), outcome: 'rate_limited' },
    { name: 'concurrency limited', result: rejected('concurrency_limited'), outcome: 'concurrency_limited' },
    { name: 'load shed', result: rejected('load_shed'), outcome: 'load_shed' },
    { name: 'insufficient credits', result: rejected('insufficient_credits'), outcome: 'insufficient_credits' },
    { name: 'no answer (an error)', result: undefined, outcome: 'error' },
  ])('given $name, then $outcome', ({ result, outcome }) => {
    expect(classifyAnswer(result).outcome).toBe(outcome);
  });

  it('keeps the retry hint of a rejection', () => {
    expect(classifyAnswer(rejected('rate_limited', { retryAfterMs: 1200 }))).toEqual({ outcome: 'rate_limited', estimatedCredits: 0, retryAfterMs: 1200 });
  });

  it('records counts, first occurrence and admitted credits per account', () => {
    const stats = emptyStats(t0);
    const { requests } = firstRequests(2_000);
    const r = requests[0]!;
    recordAnswer(stats, r, { outcome: 'admitted_credits', admissionId: 'a', estimatedCredits: 40 }, t0 + 1500);
    recordAnswer(stats, r, { outcome: 'admitted_credits', admissionId: 'b', estimatedCredits: 2 }, t0 + 2500);
    recordAnswer(stats, r, { outcome: 'rate_limited', estimatedCredits: 99 }, t0 + 3000);
    expect(stats.counts.admitted_credits).toBe(2);
    expect(stats.firstAtMs).toEqual({ admitted_credits: 1500, rate_limited: 3000 });
    expect(stats.admittedCreditsByAccount[r.accountId]).toBe(42);
  });
});

describe('RateCap', () => {
  it('never lets more than burst + perSecond × elapsed through (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100 }), fc.integer({ min: 1, max: 50 }), fc.array(fc.integer({ min: 0, max: 500 }), { maxLength: 300 }), (perSecond, burst, gaps) => {
        const cap = new RateCap(perSecond, burst, 0);
        let now = 0;
        let passed = 0;
        for (const gap of gaps) {
          now += gap;
          if (cap.take(now)) passed += 1;
        }
        expect(passed).toBeLessThanOrEqual(burst + (perSecond * now) / 1000 + 1e-9);
      }),
    );
  });

  it('lets a steady stream under the cap through entirely', () => {
    const cap = new RateCap(10, 1, 0);
    const passed = Array.from({ length: 100 }, (_, i) => cap.take(i * 100)).filter(Boolean).length;
    expect(passed).toBe(100);
  });
});

describe('seededRandom', () => {
  it('stays in [0, 1)', () => {
    const random = seededRandom(42);
    for (let i = 0; i < 10_000; i++) {
      const x = random();
      expect(x >= 0 && x < 1).toBe(true);
    }
  });
});
