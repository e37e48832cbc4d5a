import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ExpiryHeap, type Expiring } from './expiry-heap';

interface Item extends Expiring {
  readonly id: number;
}

describe('ExpiryHeap', () => {
  it('pops in expiry order and removes from the middle, against a sorted list (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.record({ op: fc.constant('push' as const), at: fc.integer({ min: 0, max: 1_000 }) }), fc.record({ op: fc.constantFrom('pop' as const, 'remove' as const), pick: fc.nat() })), {
          maxLength: 200,
        }),
        (ops) => {
          const heap = new ExpiryHeap<Item>();
          let model: Item[] = [];
          let id = 0;
          for (const op of ops) {
            if (op.op === 'push') {
              const item: Item = { id: id++, dueAtMs: op.at, heapIndex: -1 };
              heap.push(item);
              model.push(item);
            } else if (op.op === 'pop') {
              const popped = heap.pop();
              const min = Math.min(...model.map((m) => m.dueAtMs));
              expect(popped?.dueAtMs ?? Number.POSITIVE_INFINITY).toBe(model.length === 0 ? Number.POSITIVE_INFINITY : min);
              model = model.filter((m) => m !== popped);
            } else if (model.length > 0) {
              const victim = model[op.pick % model.length] as Item;
              heap.remove(victim);
              expect(victim.heapIndex).toBe(-1);
              model = model.filter((m) => m !== victim);
            }
            expect(heap.size).toBe(model.length);
          }
        },
      ),
    );
  });

  it('removing an item twice, or one never pushed, changes nothing', () => {
    const heap = new ExpiryHeap<Item>();
    const a: Item = { id: 1, dueAtMs: 5, heapIndex: -1 };
    const b: Item = { id: 2, dueAtMs: 3, heapIndex: -1 };
    heap.push(a);
    heap.remove(a);
    heap.remove(a);
    heap.remove(b);
    expect(heap.size).toBe(0);
  });
});
