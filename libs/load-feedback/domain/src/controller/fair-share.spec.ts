import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { weightedFairShare, type FairShareClaim } from './fair-share';

const claim = (weight: number, min: number, max: number): FairShareClaim => ({ weight, min, max });

describe('weightedFairShare', () => {
  it.each([
    { name: 'equal weights split evenly', budget: 100, claims: [claim(1, 0, 100), claim(1, 0, 100)], expected: [50, 50] },
    { name: 'weights split in proportion', budget: 100, claims: [claim(1, 0, 100), claim(3, 0, 100)], expected: [25, 75] },
    { name: 'a claim that wants less keeps all of it and the rest flows on', budget: 100, claims: [claim(1, 0, 10), claim(1, 0, 100)], expected: [10, 90] },
    { name: 'a minimum is kept even above the weighted share', budget: 100, claims: [claim(1, 60, 100), claim(1, 0, 100)], expected: [60, 40] },
    { name: 'a budget below the minimums gives the minimums', budget: 10, claims: [claim(1, 20, 30), claim(1, 5, 30)], expected: [20, 5] },
    { name: 'a budget above the maximums gives the maximums', budget: 500, claims: [claim(1, 0, 30), claim(1, 0, 40)], expected: [30, 40] },
    { name: 'zero weight gets only its minimum', budget: 50, claims: [claim(0, 5, 100), claim(1, 0, 100)], expected: [5, 45] },
  ])('$name', ({ budget, claims, expected }) => {
    const shares = weightedFairShare(budget, claims);
    shares.forEach((s, i) => expect(s).toBeCloseTo(expected[i]!, 9));
  });

  it('sums to the budget whenever the budget is feasible, and respects every min and max (property)', () => {
    const claimArb = fc
      .record({ weight: fc.double({ min: 0.1, max: 10, noNaN: true }), min: fc.double({ min: 0, max: 100, noNaN: true }), extra: fc.double({ min: 0, max: 100, noNaN: true }) })
      .map(({ weight, min, extra }) => claim(weight, min, min + extra));
    fc.assert(
      fc.property(fc.array(claimArb, { minLength: 1, maxLength: 12 }), fc.double({ min: 0, max: 1, noNaN: true }), (claims, position) => {
        const low = claims.reduce((s, c) => s + c.min, 0);
        const high = claims.reduce((s, c) => s + c.max, 0);
        const budget = low + (high - low) * position;
        const shares = weightedFairShare(budget, claims);
        expect(shares.reduce((a, b) => a + b, 0)).toBeCloseTo(budget, 6);
        shares.forEach((s, i) => {
          expect(s).toBeGreaterThanOrEqual(claims[i]!.min - 1e-9);
          expect(s).toBeLessThanOrEqual(claims[i]!.max + 1e-9);
        });
      }),
    );
  });
});
