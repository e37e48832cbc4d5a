import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RollingWindow } from './rolling-window';

const HOUR = 3_600_000;
const T0 = 1_700_000_000_000 - (1_700_000_000_000 % HOUR); // aligned, so bucket edges are easy to read

describe('RollingWindow', () => {
  it('given a 5 h window in 120 buckets, then buckets are 2.5 minutes', () => {
    const w = new RollingWindow(5 * HOUR, 120);
    expect([w.bucketMs, w.spanBuckets]).toEqual([150_000, 120]);
  });

  it('counts usage for the whole window and lets it go at most two buckets later', () => {
    const w = new RollingWindow(5 * HOUR, 120);
    w.add(T0 + 1, T0 + 1, 30);
    expect(w.usage(T0 + 5 * HOUR)).toBe(30); // exactly W later (less 1 ms): still counted
    expect(w.usage(T0 + 5 * HOUR + w.bucketMs - 1)).toBe(30);
    expect(w.usage(T0 + 5 * HOUR + w.bucketMs)).toBe(0); // one bucket after W: gone
  });

  it('never drops usage before a full window has passed (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 200 }),
        fc.integer({ min: 60_000, max: 7 * 24 * HOUR }),
        fc.integer({ min: 0, max: 10 * HOUR }),
        fc.integer({ min: 0, max: 20 * HOUR }),
        (buckets, windowMs, offset, later) => {
          const w = new RollingWindow(windowMs, buckets);
          const at = T0 + offset;
          w.add(at, at, 7);
          const usage = w.usage(at + later);
          if (later < windowMs) expect(usage).toBe(7);
          if (later >= windowMs + 2 * w.bucketMs) expect(usage).toBe(0);
        },
      ),
    );
  });

  it('nextReleaseMs says when the oldest counted usage leaves', () => {
    const w = new RollingWindow(5 * HOUR, 120);
    expect(w.nextReleaseMs(T0)).toBe(0);
    w.add(T0, T0, 10);
    const release = w.nextReleaseMs(T0);
    expect(release).toBe(RollingWindow.releaseAfterMs(5 * HOUR, 120, T0));
    expect(w.usage(T0 + release - 1)).toBe(10);
    expect(w.usage(T0 + release)).toBe(0);
  });

  it('corrects the bucket the usage went into, never below zero, and ignores buckets already gone', () => {
    const w = new RollingWindow(HOUR, 60);
    w.add(T0, T0, 50);
    w.add(T0 + 10 * 60_000, T0 + 10 * 60_000, 20);
    w.correct(T0, -30);
    expect(w.usage(T0 + 10 * 60_000)).toBe(40);
    w.correct(T0, -100);
    expect(w.usage(T0 + 10 * 60_000)).toBe(20);
    w.correct(T0 - 5 * HOUR, -20);
    expect(w.usage(T0 + 10 * 60_000)).toBe(20);
  });

  it('records out-of-order usage (replay) in its own bucket, and drops usage already outside the window', () => {
    const w = new RollingWindow(HOUR, 60);
    w.add(T0 + 30 * 60_000, T0 + 30 * 60_000, 5);
    w.add(T0 + 10 * 60_000, T0 + 30 * 60_000, 7);
    w.add(T0 - 2 * HOUR, T0 + 30 * 60_000, 100);
    expect(w.usage(T0 + 30 * 60_000)).toBe(12);
    expect(w.bucketCount).toBe(2);
    // The older usage leaves first.
    expect(w.usage(T0 + 10 * 60_000 + HOUR + 2 * 60_000)).toBe(5);
  });

  it('keeps at most spanBuckets + 1 buckets whatever the traffic (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 200_000 }), { maxLength: 300 }), (gaps) => {
        const w = new RollingWindow(HOUR, 10);
        let now = T0;
        for (const gap of gaps) {
          now += gap;
          w.add(now, now, 1);
          expect(w.bucketCount).toBeLessThanOrEqual(w.spanBuckets + 1);
        }
      }),
    );
  });

  it('its running total equals the sum over a plain list of (time, credits) in the counted buckets (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ gapMs: fc.integer({ min: 0, max: 20 * 60_000 }), credits: fc.integer({ min: 0, max: 50 }), correction: fc.integer({ min: 0, max: 60 }) }), { maxLength: 100 }),
        (steps) => {
          const w = new RollingWindow(HOUR, 12);
          const log: { at: number; credits: number }[] = [];
          let now = T0;
          for (const step of steps) {
            now += step.gapMs;
            w.add(now, now, step.credits);
            log.push({ at: now, credits: step.credits });
            const target = log[Math.floor(log.length / 2)];
            if (target !== undefined && step.correction > 0) {
              const delta = -Math.min(step.correction, target.credits);
              const oldest = Math.floor(now / w.bucketMs) - w.spanBuckets;
              if (Math.floor(target.at / w.bucketMs) >= oldest) {
                w.correct(target.at, delta);
                target.credits += delta;
              }
            }
            const current = Math.floor(now / w.bucketMs);
            const expected = log.filter((e) => Math.floor(e.at / w.bucketMs) >= current - w.spanBuckets).reduce((sum, e) => sum + e.credits, 0);
            expect(w.usage(now)).toBe(expected);
          }
        },
      ),
    );
  });
});
