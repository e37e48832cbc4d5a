import { describe, expect, it } from 'vitest';
import { RetriableError } from '@access/platform-kafka';
import type { ClickhouseUsageStore } from './clickhouse-usage-store';
import { InsertCoalescer } from './insert-coalescer';

/** A store that records INSERTs and refuses any containing a line marked `bad`, or everything while `down`. */
function fakeStore() {
  const inserts: string[][] = [];
  const state = { down: false };
  const store = {
    inserts,
    state,
    async insertLines(_table: string, lines: readonly string[]) {
      if (state.down) throw new RetriableError('connect ECONNREFUSED');
      if (lines.some((l) => l.includes('bad'))) throw new Error('Code: 27, e.displayText() = DB::Exception: Cannot parse input');
      inserts.push([...lines]);
    },
    async waitUntilFinished() {},
  };
  return store;
}

const limits = { rowsMax: 5, bytesMax: 1_000_000, waitMsMax: 10, settleMsMax: 100 };

describe('InsertCoalescer', () => {
  it('given concurrent batches of several partitions, writes them with one INSERT', async () => {
    const store = fakeStore();
    const c = new InsertCoalescer(store as unknown as ClickhouseUsageStore, 'request_usage', limits);
    await Promise.all([c.write(['a1', 'a2']), c.write(['b1']), c.write(['c1'])]);
    expect(store.inserts).toEqual([['a1', 'a2', 'b1', 'c1']]);
  });

  it('sends at once when the row bound is reached, and never splits one caller\'s rows', async () => {
    const store = fakeStore();
    const c = new InsertCoalescer(store as unknown as ClickhouseUsageStore, 'request_usage', limits);
    await Promise.all([c.write(['a1', 'a2', 'a3']), c.write(['b1', 'b2', 'b3']), c.write(['c1'])]);
    expect(store.inserts).toEqual([['a1', 'a2', 'a3'], ['b1', 'b2', 'b3', 'c1']]);
  });

  it('blames a refused row on its own caller only', async () => {
    const store = fakeStore();
    const c = new InsertCoalescer(store as unknown as ClickhouseUsageStore, 'request_usage', limits);
    const results = await Promise.allSettled([c.write(['a1']), c.write(['bad']), c.write(['c1'])]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(store.inserts).toEqual([['a1'], ['c1']]);
  });

  it('fails every caller while the server is down, and stores nothing', async () => {
    const store = fakeStore();
    store.state.down = true;
    const c = new InsertCoalescer(store as unknown as ClickhouseUsageStore, 'request_usage', limits);
    const results = await Promise.allSettled([c.write(['a1']), c.write(['b1'])]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(store.inserts).toEqual([]);
  });
});
