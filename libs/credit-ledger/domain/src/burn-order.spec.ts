import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareBurnOrder, drawInBurnOrder, type Burnable } from './burn-order';

const g = (grantId: string, priority: number, expiresAtMs: number | null, seq: number, drawableCredits = 100) => ({
  grantId,
  priority,
  expiresAtMs,
  seq,
  drawableCredits,
});

describe('compareBurnOrder', () => {
  it.each([
    ['lower priority first', g('a', 10, null, 1), g('b', 20, 5, 0)],
    ['same priority: earlier expiry first', g('a', 10, 5, 1), g('b', 10, 9, 0)],
    ['same priority: never-expiring last', g('a', 10, 9, 1), g('b', 10, null, 0)],
    ['same priority and expiry: oldest first', g('a', 10, 9, 0), g('b', 10, 9, 1)],
    ['same priority, both never expire: oldest first', g('a', 10, null, 0), g('b', 10, null, 1)],
  ])('%s', (_name, first: Burnable, second: Burnable) => {
    expect(compareBurnOrder(first, second)).toBeLessThan(0);
    expect(compareBurnOrder(second, first)).toBeGreaterThan(0);
  });
});

describe('drawInBurnOrder', () => {
  it('takes from each grant in turn and reports what none covers', () => {
    expect(drawInBurnOrder([g('late', 20, null, 0, 50), g('early', 10, null, 1, 30)], 100)).toEqual({
      draws: [
        { grantId: 'early', credits: 30 },
        { grantId: 'late', credits: 50 },
      ],
      uncoveredCredits: 20,
    });
  });

  it('never takes more than asked, nor more than a grant has, and covers what it can', () => {
    const grant = fc.record({
      priority: fc.integer({ min: 0, max: 3 }),
      expiresAtMs: fc.option(fc.integer({ min: 0, max: 3 }), { nil: null }),
      drawableCredits: fc.integer({ min: 0, max: 100 }),
    });
    fc.assert(
      fc.property(fc.array(grant, { maxLength: 8 }), fc.integer({ min: 0, max: 500 }), (specs, credits) => {
        const grants = specs.map((s, seq) => ({ ...s, seq, grantId: `g${seq}` }));
        const { draws, uncoveredCredits } = drawInBurnOrder(grants, credits);
        const drawn = draws.reduce((sum, d) => sum + d.credits, 0);
        const available = grants.reduce((sum, x) => sum + x.drawableCredits, 0);
        expect(drawn + uncoveredCredits).toBe(credits);
        expect(drawn).toBe(Math.min(credits, available));
        for (const d of draws) {
          expect(d.credits).toBeGreaterThan(0);
          expect(d.credits).toBeLessThanOrEqual(grants.find((x) => x.grantId === d.grantId)?.drawableCredits ?? 0);
        }
        // Only the last grant drawn on may be left with credits: the earlier ones were emptied first.
        for (const d of draws.slice(0, -1)) expect(d.credits).toBe(grants.find((x) => x.grantId === d.grantId)?.drawableCredits);
      }),
    );
  });
});
