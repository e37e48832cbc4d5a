import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { check, checkInto, chargeInto, EMPTY_CELL, newGcraResult, tatMs, type GcraCell } from './gcra';

const MINUTE = 60_000;

/** Runs checks in order, carrying the cell forward; returns each result. */
function run(limit: number, steps: readonly { at: number; cost: number }[], periodMs = MINUTE) {
  let cell: GcraCell = EMPTY_CELL;
  return steps.map(({ at, cost }) => {
    const result = check(cell, at, cost, limit, periodMs);
    if (result.allowed) cell = { atMs: result.atMs, debt: result.debt };
    return result;
  });
}

describe('gcra.check', () => {
  it('given an empty bucket of 3/min, then a burst of 3 is allowed and the 4th waits exactly 20 s', () => {
    const results = run(3, [0, 0, 0, 0].map((at) => ({ at, cost: 1 })));
    expect(results.map((r) => r.allowed)).toEqual([true, true, true, false]);
    expect(results.map((r) => r.remaining)).toEqual([2, 1, 0, 0]);
    expect(results[3]?.retryAfterMs).toBe(20_000);
    expect(results[2]?.resetMs).toBe(60_000);
  });

  it.each([
    // [limit, history, probe, expected allowed, expected retryAfterMs]
    [3, [0, 0, 0], 19_999, false, 1],
    [3, [0, 0, 0], 20_000, true, 0],
    [7, [0, 0, 0, 0, 0, 0, 0], 8_571, false, 1], // 60000/7 = 8571.43 ms per unit
    [7, [0, 0, 0, 0, 0, 0, 0], 8_572, true, 0],
    [1, [0], 59_999, false, 1],
    [1, [0], 60_000, true, 0],
  ])('given limit %d and admissions at %j, when probing at %d, then allowed=%s retryAfterMs=%d', (limit, history, probe, allowed, retry) => {
    const results = run(limit, [...history.map((at) => ({ at, cost: 1 })), { at: probe, cost: 1 }]);
    expect(results.slice(0, -1).every((r) => r.allowed)).toBe(true);
    expect(results.at(-1)).toMatchObject({ allowed, retryAfterMs: retry });
  });

  it('weights by cost: 1000 credits/min admits 600 then 400, then waits for 100 more to refill', () => {
    const results = run(1000, [
      { at: 0, cost: 600 },
      { at: 0, cost: 400 },
      { at: 0, cost: 100 },
    ]);
    expect(results.map((r) => r.allowed)).toEqual([true, true, false]);
    expect(results[2]?.retryAfterMs).toBe(6_000);
  });

  it('has no fixed-window boundary burst: at 59.999 s and 60.001 s only the refilled part is available', () => {
    const results = run(10, [
      ...Array.from({ length: 10 }, () => ({ at: 59_999, cost: 1 })),
      { at: 60_001, cost: 1 },
    ]);
    expect(results.filter((r) => r.allowed)).toHaveLength(10);
    expect(results.at(-1)?.allowed).toBe(false);
  });

  it('admits a request bigger than the burst only into an empty bucket, then repays it', () => {
    const results = run(100, [
      { at: 0, cost: 250 },
      { at: 1_000, cost: 1 },
    ]);
    expect(results[0]).toMatchObject({ allowed: true, remaining: 0, resetMs: 150_000 });
    // At 1 s it owes 248.33 units (100/min repays one per 600 ms); a 1-unit request needs owed ≤ 99,
    // so 149.33 units more: 89.6 s.
    expect(results[1]).toMatchObject({ allowed: false, retryAfterMs: 89_600 });
    const oversizedAgain = run(100, [
      { at: 0, cost: 250 },
      { at: 149_999, cost: 250 },
      { at: 150_000, cost: 250 },
    ]);
    expect(oversizedAgain.map((r) => r.allowed)).toEqual([true, false, true]);
    expect(oversizedAgain[1]?.retryAfterMs).toBe(1);
  });

  it('given a clock that goes backwards, then nothing is repaid and the cell time does not move back', () => {
    const first = check(EMPTY_CELL, 10_000, 1, 1, MINUTE);
    const second = check({ atMs: first.atMs, debt: first.debt }, 5_000, 1, 1, MINUTE);
    expect(second).toMatchObject({ allowed: false, atMs: 10_000, retryAfterMs: 60_000 });
  });

  it('given a limit below 1, then nothing is allowed and there is no finite retry', () => {
    expect(check(EMPTY_CELL, 0, 1, 0, MINUTE)).toMatchObject({ allowed: false, retryAfterMs: Number.POSITIVE_INFINITY });
  });

  it('a zero-cost request is always allowed and charges nothing', () => {
    const full = run(1, [{ at: 0, cost: 1 }])[0];
    const free = check({ atMs: full?.atMs ?? 0, debt: full?.debt ?? 0 }, 0, 0, 1, MINUTE);
    expect(free).toMatchObject({ allowed: true, debt: full?.debt });
  });

  it('keeps units in use when the limit changes (debt is independent of the limit)', () => {
    const atTen = run(10, Array.from({ length: 8 }, () => ({ at: 0, cost: 1 }))).at(-1);
    const cell = { atMs: atTen?.atMs ?? 0, debt: atTen?.debt ?? 0 };
    expect(check(cell, 0, 1, 10, MINUTE).remaining).toBe(1);
    // Halved to 5/min, the 8 units in use exceed it: wait until 4 are repaid at 5/min (48 s).
    expect(check(cell, 0, 1, 5, MINUTE)).toMatchObject({ allowed: false, retryAfterMs: 48_000 });
  });

  it('tatMs is the textbook theoretical arrival time', () => {
    const after = run(4, [{ at: 1_000, cost: 1 }])[0];
    expect(tatMs({ atMs: after?.atMs ?? 0, debt: after?.debt ?? 0 }, 4)).toBe(1_000 + 15_000);
  });

  it('chargeInto charges even past the limit (replaying a decision already made)', () => {
    const out = chargeInto(newGcraResult(), 0, 0, 0, 5, 1, MINUTE);
    expect(out.debt).toBe(5 * MINUTE);
    expect(checkInto(newGcraResult(), out.atMs, out.debt, 0, 1, 1, MINUTE).retryAfterMs).toBe(5 * MINUTE);
  });
});

describe('gcra properties', () => {
  const limitArb = fc.integer({ min: 1, max: 5_000 });
  const historyArb = (limit: number) =>
    fc.array(fc.record({ gapMs: fc.integer({ min: 0, max: 5_000 }), cost: fc.integer({ min: 0, max: limit * 2 }) }), { maxLength: 40 });

  /** Replays a history from t=1e12 (realistic epoch ms), returning the cell and the time reached. */
  function replay(limit: number, history: readonly { gapMs: number; cost: number }[], periodMs: number) {
    let cell: GcraCell = EMPTY_CELL;
    let now = 1_700_000_000_000;
    const admitted: { at: number; cost: number }[] = [];
    for (const step of history) {
      now += step.gapMs;
      const r = check(cell, now, step.cost, limit, periodMs);
      if (r.allowed) {
        cell = { atMs: r.atMs, debt: r.debt };
        admitted.push({ at: now, cost: step.cost });
      }
    }
    return { cell, now, admitted };
  }

  it('retryAfterMs is exact: at now + retryAfterMs the same request is allowed, one ms earlier it is not', () => {
    fc.assert(
      fc.property(
        limitArb.chain((limit) => fc.tuple(fc.constant(limit), historyArb(limit), fc.integer({ min: 0, max: limit * 2 }), fc.constantFrom(1_000, 60_000, 3_600_000))),
        ([limit, history, cost, periodMs]) => {
          const { cell, now } = replay(limit, history, periodMs);
          const r = check(cell, now, cost, limit, periodMs);
          if (r.allowed) return;
          expect(r.retryAfterMs).toBeGreaterThan(0);
          expect(check(cell, now + r.retryAfterMs, cost, limit, periodMs).allowed).toBe(true);
          expect(check(cell, now + r.retryAfterMs - 1, cost, limit, periodMs).allowed).toBe(false);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('remaining is exact: exactly that many more unit requests fit at the same instant', () => {
    fc.assert(
      fc.property(limitArb.filter((l) => l <= 500).chain((limit) => fc.tuple(fc.constant(limit), historyArb(limit))), ([limit, history]) => {
        const { cell, now } = replay(limit, history, MINUTE);
        const first = check(cell, now, 1, limit, MINUTE);
        if (!first.allowed) return;
        let c: GcraCell = { atMs: first.atMs, debt: first.debt };
        for (let i = 0; i < first.remaining; i++) {
          const r = check(c, now, 1, limit, MINUTE);
          expect(r.allowed).toBe(true);
          c = { atMs: r.atMs, debt: r.debt };
        }
        expect(check(c, now, 1, limit, MINUTE).allowed).toBe(false);
      }),
    );
  });

  it('matches textbook GCRA computed with exact rationals', () => {
    fc.assert(
      fc.property(limitArb.chain((limit) => fc.tuple(fc.constant(limit), historyArb(limit))), ([limit, history]) => {
        // Textbook: TAT in units of 1/limit ms (BigInt), T = periodMs per unit, tolerance periodMs;
        // a request larger than the burst only into an empty bucket (TAT <= now).
        const L = BigInt(limit);
        const P = BigInt(MINUTE);
        let tat = 0n;
        let cell: GcraCell = EMPTY_CELL;
        let now = 1_700_000_000_000;
        for (const step of history) {
          now += step.gapMs;
          const n = BigInt(now) * L;
          const base = tat > n ? tat : n;
          const next = base + BigInt(step.cost) * P;
          const expected = next - n <= P * L || tat <= n;
          const r = check(cell, now, step.cost, limit, MINUTE);
          expect(r.allowed).toBe(expected);
          if (expected) tat = next;
          if (r.allowed) cell = { atMs: r.atMs, debt: r.debt };
        }
      }),
      { numRuns: 500 },
    );
  });

  it('never admits more than the burst plus what the elapsed time refills (requests no bigger than the burst)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }).chain((limit) =>
          fc.tuple(fc.constant(limit), fc.array(fc.record({ gapMs: fc.integer({ min: 0, max: 3_000 }), cost: fc.integer({ min: 0, max: limit }) }), { maxLength: 80 })),
        ),
        ([limit, history]) => {
          const { admitted } = replay(limit, history, MINUTE);
          for (let i = 0; i < admitted.length; i++) {
            let total = 0;
            for (let j = i; j < admitted.length; j++) {
              total += admitted[j]?.cost ?? 0;
              const span = (admitted[j]?.at ?? 0) - (admitted[i]?.at ?? 0);
              expect(total).toBeLessThanOrEqual(limit + (span * limit) / MINUTE);
            }
          }
        },
      ),
    );
  });
});
