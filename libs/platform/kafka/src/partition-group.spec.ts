import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { assignSticky } from './partition-group';

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

function check(partitions: number[], members: { id: string; owned: number[] }[]): Map<string, number[]> {
  const plan = assignSticky(partitions, members);
  const all = [...plan.values()].flat();
  // Every partition exactly once.
  expect(all.slice().sort((a, b) => a - b)).toEqual([...new Set(partitions)].sort((a, b) => a - b));
  // Balanced: shares differ by at most one.
  const sizes = [...plan.values()].map((p) => p.length);
  if (sizes.length > 0) expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
  return plan;
}

describe('assignSticky', () => {
  it.each([
    { name: 'one member takes everything', partitions: range(8), members: [{ id: 'a', owned: [] }], expected: { a: range(8) } },
    { name: 'two new members split evenly', partitions: range(8), members: [{ id: 'b', owned: [] }, { id: 'a', owned: [] }], expected: { a: [0, 1, 2, 3], b: [4, 5, 6, 7] } },
    {
      name: 'a joining member takes only its share from the owner',
      partitions: range(8),
      members: [{ id: 'a', owned: range(8) }, { id: 'b', owned: [] }],
      expected: { a: [0, 1, 2, 3], b: [4, 5, 6, 7] },
    },
    {
      name: 'a member leaving: the survivors keep theirs and split the orphans',
      partitions: range(8),
      members: [{ id: 'a', owned: [0, 3, 6] }, { id: 'c', owned: [2, 5] }],
      expected: { a: [0, 1, 3, 6], c: [2, 4, 5, 7] },
    },
    {
      name: 'a claim on a partition that no longer exists is ignored',
      partitions: range(2),
      members: [{ id: 'a', owned: [0, 5] }, { id: 'b', owned: [] }],
      expected: { a: [0], b: [1] },
    },
    { name: 'more members than partitions: some own nothing', partitions: range(2), members: [{ id: 'a', owned: [] }, { id: 'b', owned: [] }, { id: 'c', owned: [] }], expected: { a: [0], b: [1], c: [] } },
  ])('$name', ({ partitions, members, expected }) => {
    expect(Object.fromEntries(check(partitions, members))).toEqual(expected);
  });

  it('for any claims: every partition once, balanced, and a member keeps what it owned up to its share', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 32 }),
        fc.uniqueArray(fc.string({ minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 10 }),
        fc.array(fc.integer({ min: 0, max: 40 }), { maxLength: 60 }),
        (count, ids, claims) => {
          // Claims distributed over the members, without two members claiming the same partition (a real group).
          const owned = new Map<string, number[]>(ids.map((id) => [id, []]));
          const seen = new Set<number>();
          claims.forEach((p, i) => {
            if (seen.has(p)) return;
            seen.add(p);
            owned.get(ids[i % ids.length] as string)!.push(p);
          });
          const members = ids.map((id) => ({ id, owned: owned.get(id) ?? [] }));
          const plan = check(range(count), members);
          const floor = Math.floor(count / ids.length);
          for (const m of members) {
            const kept = m.owned.filter((p) => p < count && (plan.get(m.id) ?? []).includes(p)).length;
            expect(kept).toBeGreaterThanOrEqual(Math.min(floor, m.owned.filter((p) => p < count).length));
          }
          // Deterministic: the same input in another order gives the same plan.
          expect(Object.fromEntries(assignSticky(range(count), [...members].reverse()))).toEqual(Object.fromEntries(plan));
        },
      ),
      { seed: 11, numRuns: 500 },
    );
  });
});
