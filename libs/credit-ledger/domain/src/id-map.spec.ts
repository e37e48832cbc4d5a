import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IdMap } from './id-map';

type Op = { readonly kind: 'set'; readonly key: string; readonly value: number } | { readonly kind: 'delete'; readonly key: string };

const key = fc.oneof(fc.constantFrom('a', 'b', 'adm-1', 'adm-2'), fc.string({ maxLength: 12 }));
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), key, value: fc.integer() }),
  fc.record({ kind: fc.constant('delete' as const), key }),
);

describe('IdMap', () => {
  it('behaves like a Map, and never changes a version it was derived from', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const model = new Map<string, number>();
        let map = IdMap.empty<number>();
        for (const o of ops) {
          const before = map;
          const sizeBefore = before.size;
          const snapshot = [...before.entries()];
          if (o.kind === 'set') {
            model.set(o.key, o.value);
            map = map.set(o.key, o.value);
          } else {
            model.delete(o.key);
            map = map.delete(o.key);
          }
          expect(before.size).toBe(sizeBefore);
          expect([...before.entries()]).toEqual(snapshot);
          expect(map.size).toBe(model.size);
          expect(map.get(o.key)).toBe(model.get(o.key));
          expect(map.has(o.key)).toBe(model.has(o.key));
        }
        expect(new Map(map.entries())).toEqual(model);
        expect([...map.values()].sort()).toEqual([...model.values()].sort());
      }),
      { numRuns: 300 },
    );
  });

  it('maps with the same contents are equal, however they were built', () => {
    const built = IdMap.of([['x', 1], ['y', 2], ['z', 3]]).delete('z');
    const other = IdMap.of([['z', 9], ['y', 2]]).set('x', 1).delete('z');
    expect(built).toEqual(other);
    expect(IdMap.empty<number>().set('a', 1).delete('a')).toEqual(IdMap.empty<number>());
  });

  it('keeps equal contents equal across the small and the large representation', () => {
    const keys = Array.from({ length: 24 }, (_, i) => `adm-${i}`);
    const grown = keys.reduce((map, key, i) => map.set(key, i), IdMap.empty<number>());
    const shrunk = keys.slice(10).reduce((map, key) => map.delete(key), grown);
    const direct = IdMap.of(keys.slice(0, 10).reverse().map((key) => [key, Number(key.slice(4))] as const));
    expect(grown.size).toBe(24);
    expect(shrunk).toEqual(direct);
    expect(shrunk.values().sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('deleting an absent key returns the same map', () => {
    const map = IdMap.of([['a', 1]]);
    expect(map.delete('b')).toBe(map);
  });

  it('holds many ids', () => {
    let map = IdMap.empty<number>();
    for (let i = 0; i < 50_000; i++) map = map.set(`adm-${i}`, i);
    expect(map.size).toBe(50_000);
    expect(map.get('adm-31337')).toBe(31_337);
    expect(map.get('adm-50000')).toBeUndefined();
  });
});
