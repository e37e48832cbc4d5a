import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { newEventId } from './ids';
import { uuidv7Schema } from './primitives';
import { createUuidv7Generator, type RandomSource, uuidv7, uuidv7TimeMs, uuidv7TimeMsMax } from './uuidv7';

/** A deterministic random source (mulberry32), so a failing property replays from its seed. */
function seeded(seed: number): RandomSource {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const timeMs = fc.integer({ min: 0, max: uuidv7TimeMsMax });
const seed = fc.integer();

describe('uuidv7', () => {
  it('given any time and randomness, then it is a canonical UUIDv7 holding that time', () => {
    fc.assert(
      fc.property(timeMs, seed, (t, s) => {
        const id = uuidv7(t, seeded(s));
        expect(uuidv7Schema.safeParse(id).success).toBe(true);
        expect(uuidv7TimeMs(id)).toBe(t);
      }),
    );
  });

  it('given two different milliseconds, then the ids sort as strings by time', () => {
    fc.assert(
      fc.property(timeMs, timeMs, seed, seed, (t1, t2, s1, s2) => {
        fc.pre(t1 !== t2);
        const [earlier, later] = t1 < t2 ? [t1, t2] : [t2, t1];
        expect(uuidv7(earlier, seeded(s1)) < uuidv7(later, seeded(s2))).toBe(true);
      }),
    );
  });

  it('given the same inputs, then the same id (pure)', () => {
    expect(uuidv7(1_795_600_000_000, seeded(7))).toBe(uuidv7(1_795_600_000_000, seeded(7)));
  });

  it('given a random source that returns exactly 1, then the id is still well-formed', () => {
    expect(uuidv7Schema.safeParse(uuidv7(0, () => 1)).success).toBe(true);
  });

  it.each([-1, 1.5, 2 ** 48, Number.NaN, Number.POSITIVE_INFINITY])('given time %s, then it refuses', (t) => {
    expect(() => uuidv7(t, Math.random)).toThrow(RangeError);
  });
});

describe('createUuidv7Generator', () => {
  it('given any clock readings (repeats, steps back, bursts), then ids strictly increase', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 2 ** 40 }), { minLength: 1, maxLength: 200 }), seed, (readings, s) => {
        let i = 0;
        const next = createUuidv7Generator(() => readings[i++ % readings.length] ?? 0, seeded(s));
        const ids = Array.from({ length: readings.length * 3 }, next);
        for (let k = 1; k < ids.length; k++) expect(ids[k - 1]! < ids[k]!).toBe(true);
        for (const id of ids) expect(uuidv7Schema.safeParse(id).success).toBe(true);
      }),
    );
  });

  it('given 10,000 ids in one millisecond, then they increase and the timestamp runs ahead by only a few ms', () => {
    const next = createUuidv7Generator(() => 1_000, seeded(1));
    const ids = Array.from({ length: 10_000 }, next);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    // At least 2048 ids fit in each borrowed millisecond.
    expect(uuidv7TimeMs(ids.at(-1)!)).toBeLessThanOrEqual(1_000 + Math.ceil(10_000 / 2048));
  });
});

describe('newEventId', () => {
  it('given many calls, then valid, unique and increasing UUIDv7s', () => {
    const ids = Array.from({ length: 5_000 }, newEventId);
    for (const id of ids) expect(uuidv7Schema.safeParse(id).success).toBe(true);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
