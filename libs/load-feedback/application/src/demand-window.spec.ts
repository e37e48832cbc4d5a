import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applicationLimits } from './limits';
import { DemandWindow, type DecisionSample } from './demand-window';

let n = 0;
function decision(overrides: Partial<DecisionSample> = {}): DecisionSample {
  n++;
  return { id: `e-${n}`, model: 'codex-1', plan: 'free', priority: 'batch', admitted: true, estimatedCredits: 10, atMs: 0, ...overrides };
}

describe('DemandWindow', () => {
  it('given admitted and rejected decisions, reports requested and admitted credits per second per class', () => {
    const w = new DemandWindow(5_000, 0);
    const now = 10_000;
    w.record(decision({ atMs: 6_000, estimatedCredits: 100 }), now);
    w.record(decision({ atMs: 7_000, estimatedCredits: 50, admitted: false }), now);
    w.record(decision({ atMs: 8_000, estimatedCredits: 25, plan: 'pro', priority: 'standard' }), now);
    const byClass = Object.fromEntries(w.demand(now).map((d) => [`${d.plan}|${d.priority}`, d]));
    expect(byClass['free|batch']).toMatchObject({ model: 'codex-1', requestedCreditsPerSecond: 30, admittedCreditsPerSecond: 20 });
    expect(byClass['pro|standard']).toMatchObject({ requestedCreditsPerSecond: 5, admittedCreditsPerSecond: 5 });
  });

  it('counts a redelivered decision once', () => {
    const w = new DemandWindow(1_000, 0);
    const d = decision({ atMs: 9_500, estimatedCredits: 100 });
    expect(w.record(d, 10_000)).toBe('recorded');
    expect(w.record(d, 10_000)).toBe('duplicate');
    expect(w.demand(10_000)[0]?.admittedCreditsPerSecond).toBe(100);
  });

  it('drops decisions older than the window, and forgets them as the window slides', () => {
    const w = new DemandWindow(1_000, 0);
    expect(w.record(decision({ atMs: 8_000 }), 10_000)).toBe('too_old');
    w.record(decision({ atMs: 9_900, estimatedCredits: 100 }), 10_000);
    expect(w.demand(10_000)).toHaveLength(1);
    expect(w.demand(11_500)).toEqual([]);
    expect(w.size.buckets).toBe(0);
  });

  it('counts a decision stamped in the future (clock skew) now, instead of hiding it', () => {
    const w = new DemandWindow(1_000, 0);
    w.record(decision({ atMs: 60_000, estimatedCredits: 10 }), 10_000);
    expect(w.demand(10_000)[0]?.admittedCreditsPerSecond).toBe(10);
  });

  it('takes the rate over the time observed so far when the process started less than a window ago', () => {
    const w = new DemandWindow(5_000, 10_000);
    w.record(decision({ atMs: 10_500, estimatedCredits: 100 }), 11_000);
    // One second observed, not five: 100 credits/s, not 20.
    expect(w.demand(11_000)[0]?.admittedCreditsPerSecond).toBe(100);
  });

  it('holds at most window/bucket + 1 buckets whatever the traffic (bounded memory)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 100_000 }), fc.integer({ min: 0, max: 1_000 })), { maxLength: 300 }), (events) => {
        const windowMs = 2_000;
        const w = new DemandWindow(windowMs, 0);
        let now = 0;
        for (const [step, back] of events) {
          now += step % 700;
          w.record(decision({ atMs: now - back }), now);
          w.demand(now);
          expect(w.size.buckets).toBeLessThanOrEqual(windowMs / applicationLimits.demandBucketMs + 1);
        }
      }),
    );
  });

  it('rejects a window beyond its named maximum', () => {
    expect(() => new DemandWindow(applicationLimits.demandWindowMsMax + 1, 0)).toThrow(RangeError);
  });
});
