/** `AccountLocks`: batches sharing an account run one after the other, in arrival order; disjoint ones overlap. */
import { describe, expect, it } from 'vitest';
import { AccountLocks } from './account-locks';

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

describe('AccountLocks', () => {
  it('runs a batch sharing an account only after the earlier one finished, and disjoint batches at once', async () => {
    const locks = new AccountLocks();
    const log: string[] = [];
    const first = gate();
    const a = locks.holding(['x', 'y'], async () => {
      log.push('a start');
      await first.opened;
      log.push('a end');
    });
    const b = locks.holding(['y'], async () => void log.push('b'));
    const c = locks.holding(['z'], async () => void log.push('c'));
    await c;
    expect(log).toEqual(['a start', 'c']);
    first.open();
    await Promise.all([a, b]);
    expect(log).toEqual(['a start', 'c', 'a end', 'b']);
    expect(locks.size).toBe(0);
  });

  it('releases the accounts when the batch fails', async () => {
    const locks = new AccountLocks();
    await expect(locks.holding(['x'], () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await locks.holding(['x'], async () => 'next')).toBe('next');
    expect(locks.size).toBe(0);
  });
});
