import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RecentIds, planBatch, type Candidate } from './dedupe';

const c = (key: string, offset: number, keyTimeMs = 1_000_000): Candidate => ({ key, offset: String(offset), keyTimeMs });

describe('RecentIds', () => {
  it('given a complete window, no event can have an older copy', () => {
    const recent = new RecentIds(3, true);
    recent.add('a', 100);
    expect(recent.coversSinceMs()).toBe(Number.NEGATIVE_INFINITY);
    expect(recent.mayHoldOlderCopy(0, 1_000)).toBe(false);
  });

  it('evicts the oldest beyond capacity and from then on covers only from the oldest kept', () => {
    const recent = new RecentIds(2, true);
    recent.add('a', 100);
    recent.add('b', 200);
    recent.add('c', 300);
    expect(recent.has('a')).toBe(false);
    expect(recent.has('b') && recent.has('c')).toBe(true);
    expect(recent.coversSinceMs()).toBe(200);
    expect(recent.mayHoldOlderCopy(250, 100)).toBe(true); // within the skew margin
    expect(recent.mayHoldOlderCopy(400, 100)).toBe(false);
  });

  it('given an incomplete empty window, every event needs a lookup', () => {
    expect(new RecentIds(10, false).mayHoldOlderCopy(Number.MAX_SAFE_INTEGER, 0)).toBe(true);
  });

  it('never holds more than its capacity and always holds the most recent ids (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 50 }), fc.array(fc.integer({ min: 0, max: 200 }), { maxLength: 2_000 }), (capacity, ids) => {
        const recent = new RecentIds(capacity, true);
        // The model: first in, first out; an id evicted earlier and seen again is new to the window.
        const model: string[] = [];
        ids.forEach((n, i) => {
          const id = `e${n}`;
          if (!model.includes(id)) {
            model.push(id);
            if (model.length > capacity) model.shift();
          }
          recent.add(id, i);
        });
        expect(recent.size).toBe(model.length);
        for (const id of model) expect(recent.has(id)).toBe(true);
      }),
      { numRuns: 100 },
    );
  });
});

describe('planBatch', () => {
  it('given a watermark, skips what is stored and inserts the rest in order', () => {
    const plan = planBatch([c('a', 5), c('b', 6), c('c', 7)], 6n, new RecentIds(10, true), 0);
    expect(plan.insert).toEqual([2]);
    expect(plan.skipped).toEqual([
      { index: 0, reason: 'below_watermark' },
      { index: 1, reason: 'below_watermark' },
    ]);
  });

  it('skips a duplicate inside the batch and one already in the recent window', () => {
    const recent = new RecentIds(10, true);
    recent.add('old', 1);
    const plan = planBatch([c('a', 1), c('a', 2), c('old', 3), c('b', 4)], -1n, recent, 0);
    expect(plan.insert).toEqual([0, 3]);
    expect(plan.skipped.map((s) => s.reason)).toEqual(['duplicate_in_batch', 'duplicate_recent']);
    expect(plan.lookup).toEqual([]);
  });

  it('asks for a ClickHouse lookup only for events older than the window', () => {
    const recent = new RecentIds(1, false);
    recent.add('x', 10_000);
    const plan = planBatch([c('fresh', 1, 20_000), c('replayed', 2, 5_000)], -1n, recent, 1_000);
    expect(plan.insert).toEqual([0, 1]);
    expect(plan.lookup).toEqual([1]);
  });

  // The property the rollups depend on: replaying any stream of deliveries through plan-then-store never stores an
  // event id twice, whatever the redeliveries, duplicates and restarts (which rebuild the window from the store).
  it('stores each event id at most once, and every id at least once, across redeliveries and restarts (property)', () => {
    const delivery = fc.record({ id: fc.integer({ min: 0, max: 300 }), restart: fc.boolean() });
    fc.assert(
      fc.property(fc.array(delivery, { minLength: 1, maxLength: 400 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 64 }), (log, batchSize, windowSize) => {
        // The partition's log: each entry an offset; duplicates of the same id at new offsets.
        const stored: { id: string; offset: number }[] = [];
        const storedIds = new Set<string>();
        let committed = 0;
        let recent = new RecentIds(windowSize, true);
        let watermark = -1n;
        const recover = () => {
          watermark = stored.length === 0 ? -1n : BigInt(stored[stored.length - 1]!.offset);
          const tail = stored.slice(-windowSize);
          recent = new RecentIds(windowSize, tail.length === stored.length);
          for (const s of tail) recent.add(s.id, s.offset);
        };
        const firstOffset = new Map<number, number>();
        log.forEach((d, i) => {
          if (!firstOffset.has(d.id)) firstOffset.set(d.id, i);
        });
        let position = 0;
        while (position < log.length) {
          const batch = log.slice(position, position + batchSize).map((d, i) => ({ ...d, offset: position + i }));
          // An id is created before its first copy is appended, so its time is at most the first copy's offset.
          const candidates = batch.map((d) => c(`e${d.id}`, d.offset, firstOffset.get(d.id)!));
          const plan = planBatch(candidates, watermark, recent, 0);
          const lookedUp = new Set(plan.lookup.filter((i) => storedIds.has(candidates[i]!.key)));
          for (const i of plan.insert) {
            if (lookedUp.has(i)) continue;
            const cand = candidates[i]!;
            expect(storedIds.has(cand.key)).toBe(false);
            stored.push({ id: cand.key, offset: Number(cand.offset) });
            storedIds.add(cand.key);
            recent.add(cand.key, Number(cand.offset));
          }
          if (plan.insert.length > 0) watermark = BigInt(batch[batch.length - 1]!.offset);
          // A crash after the insert but before the commit: redeliver from the committed offset and recover.
          if (batch.some((d) => d.restart)) {
            position = committed;
            recover();
            log = log.map((d, i) => (i >= committed && i < committed + batchSize ? { ...d, restart: false } : d));
            continue;
          }
          committed = position + batch.length;
          position = committed;
        }
        expect(storedIds).toEqual(new Set(log.map((d) => `e${d.id}`)));
      }),
      { numRuns: 300 },
    );
  });
});
