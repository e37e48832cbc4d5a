import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ExpiryQueue, type Queued } from './expiry-queue';

interface Item extends Queued {
  readonly id: number;
}

const item = (id: number, dueAtMs: number): Item => ({ id, dueAtMs, heapIndex: -1, lane: -1 });

describe('ExpiryQueue', () => {
  it('always yields the earliest due item, with removals anywhere, against a sorted list (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.array(
          fc.oneof(
            // Mostly time-ordered pushes with a few timeouts, as admissions are; sometimes anything.
            { weight: 5, arbitrary: fc.record({ op: fc.constant('push' as const), timeout: fc.constantFrom(100, 250, 1_000), jitter: fc.constant(0) }) },
            { weight: 1, arbitrary: fc.record({ op: fc.constant('push' as const), timeout: fc.integer({ min: -50, max: 2_000 }), jitter: fc.integer({ min: -30, max: 30 }) }) },
            { weight: 2, arbitrary: fc.record({ op: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 40 }) }) },
            { weight: 3, arbitrary: fc.record({ op: fc.constant('pop' as const) }) },
            { weight: 4, arbitrary: fc.record({ op: fc.constant('remove' as const), pick: fc.nat() }) },
          ),
          { maxLength: 400 },
        ),
        (lanesMax, ops) => {
          const queue = new ExpiryQueue<Item>(lanesMax);
          let model: Item[] = [];
          let now = 0;
          let id = 0;
          for (const op of ops) {
            if (op.op === 'push') {
              const it = item(id++, now + op.timeout + op.jitter);
              queue.push(it);
              model.push(it);
            } else if (op.op === 'tick') now += op.ms;
            else if (op.op === 'pop') {
              const top = queue.peek();
              const min = model.length === 0 ? undefined : Math.min(...model.map((m) => m.dueAtMs));
              expect(top?.dueAtMs).toBe(min);
              if (top !== undefined) {
                queue.remove(top);
                model = model.filter((m) => m !== top);
              }
            } else if (model.length > 0) {
              const victim = model[op.pick % model.length] as Item;
              queue.remove(victim);
              queue.remove(victim); // twice changes nothing
              model = model.filter((m) => m !== victim);
            }
            expect(queue.size).toBe(model.length);
          }
          // Drains in order.
          const drained: number[] = [];
          for (let top = queue.peek(); top !== undefined; top = queue.peek()) {
            drained.push(top.dueAtMs);
            queue.remove(top);
          }
          expect(drained).toEqual(model.map((m) => m.dueAtMs).sort((a, b) => a - b));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('keeps memory proportional to the live items when most are removed out of order', () => {
    const queue = new ExpiryQueue<Item>(2);
    const live: Item[] = [];
    for (let i = 0; i < 100_000; i++) {
      const it = item(i, i);
      queue.push(it);
      if (i % 100 === 0) live.push(it);
      else queue.remove(it);
    }
    expect(queue.size).toBe(live.length);
    // Positions stay consistent after compaction: every survivor can still be removed.
    for (const it of live) queue.remove(it);
    expect(queue.size).toBe(0);
    expect(queue.peek()).toBeUndefined();
  });
});
