/** `Lifecycle`: shutdown steps in reverse order of setup, every step tried, jobs that never overlap. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Lifecycle } from './lifecycle';

const quiet = () => {
  const warnings: string[] = [];
  return { warnings, logger: { warn: (extra: Record<string, unknown>, message: string) => void warnings.push(`${String(extra.hook ?? extra.job)}: ${message}`) } };
};

afterEach(() => vi.useRealTimers());

describe('Lifecycle', () => {
  it('runs the shutdown steps last registered first, once', async () => {
    const order: string[] = [];
    const life = new Lifecycle(quiet().logger);
    for (const name of ['pool', 'producer', 'consumer']) life.onStop(name, async () => void order.push(name));
    await life.stop();
    await life.stop();
    expect(order).toEqual(['consumer', 'producer', 'pool']);
    expect(life.stopping).toBe(true);
  });

  it('runs every step when one fails, then rejects naming it', async () => {
    const order: string[] = [];
    const { logger, warnings } = quiet();
    const life = new Lifecycle(logger);
    life.onStop('pool', () => void order.push('pool'));
    life.onStop('consumer', () => Promise.reject(new Error('broker gone')));
    await expect(life.stop()).rejects.toThrow('shutdown steps failed: consumer');
    expect(order).toEqual(['pool']);
    expect(warnings).toEqual(['consumer: shutdown step failed']);
  });

  it('skips a round while the previous one runs, logs a failed round, and stops the jobs at shutdown', async () => {
    vi.useFakeTimers();
    const { logger, warnings } = quiet();
    const life = new Lifecycle(logger);
    let rounds = 0;
    let finish: () => void = () => undefined;
    life.every('slow', 100, () => {
      rounds += 1;
      return new Promise<void>((resolve) => (finish = resolve));
    }, { immediately: true });
    expect(rounds).toBe(1);
    await vi.advanceTimersByTimeAsync(350);
    expect(rounds).toBe(1);
    finish();
    await vi.advanceTimersByTimeAsync(100);
    expect(rounds).toBe(2);
    life.every('failing', 100, () => Promise.reject(new Error('nope')));
    await vi.advanceTimersByTimeAsync(100);
    expect(warnings).toContain('failing: job round failed; next round retries');
    // Shutdown waits for the round in progress before its first step.
    const order: string[] = [];
    life.onStop('producer', () => void order.push('producer'));
    const stopped = life.stop();
    await vi.advanceTimersByTimeAsync(0);
    expect(order).toEqual([]);
    finish();
    await stopped;
    expect(order).toEqual(['producer']);
    const after = rounds;
    await vi.advanceTimersByTimeAsync(1_000);
    expect(rounds).toBe(after);
  });
});
