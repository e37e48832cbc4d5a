/**
 * UUIDv7 (RFC 9562 §5.7): 48 bits of Unix milliseconds, version 7, 74 random bits. Pure: time and randomness
 * are inputs, so the same inputs give the same id and tests can pin both.
 *
 * Canonical lowercase hex sorts like the underlying 128-bit number, so ids sort by creation time as strings.
 */

/** The largest millisecond timestamp UUIDv7 can hold (year 10889). */
export const uuidv7TimeMsMax = 2 ** 48 - 1;

/** Uniform random number in [0, 1), like `Math.random`. */
export type RandomSource = () => number;

function randomHex(random: RandomSource, digits: number): string {
  let out = '';
  for (let i = 0; i < digits; i++) {
    // `& 15` keeps a misbehaving source that returns exactly 1 inside one hex digit.
    out += (Math.floor(random() * 16) & 15).toString(16);
  }
  return out;
}

function assertTimeMs(nowMs: number): void {
  // A wrong clock value is a programming error, not an expected outcome: an id that does not sort by time
  // would silently break every "sortable by time" consumer, so refuse loudly.
  if (!Number.isSafeInteger(nowMs) || nowMs < 0 || nowMs > uuidv7TimeMsMax) {
    throw new RangeError(`uuidv7: nowMs must be an integer in [0, 2^48), got ${nowMs}`);
  }
}

function format(timeMs: number, randA: string, random: RandomSource): string {
  const time = timeMs.toString(16).padStart(12, '0');
  // Variant 0b10 in the two top bits of the 17th hex digit, then 62 random bits.
  const variant = (8 | (Math.floor(random() * 4) & 3)).toString(16);
  return `${time.slice(0, 8)}-${time.slice(8, 12)}-7${randA}-${variant}${randomHex(random, 3)}-${randomHex(random, 12)}`;
}

/** One UUIDv7 for `nowMs`. Ids from different milliseconds sort by time; within one millisecond, by chance. */
export function uuidv7(nowMs: number, random: RandomSource): string {
  assertTimeMs(nowMs);
  return format(nowMs, randomHex(random, 3), random);
}

/** The millisecond timestamp inside a UUIDv7. */
export function uuidv7TimeMs(id: string): number {
  return Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}

const counterMax = 0xfff;

/**
 * A generator whose ids strictly increase, even within one millisecond or when the clock steps back
 * (RFC 9562 §6.2 method 1: the 12-bit `rand_a` field is a counter seeded at random each millisecond, with the
 * top bit clear so at least 2048 ids fit in a millisecond before the timestamp is advanced by one).
 */
export function createUuidv7Generator(clock: () => number, random: RandomSource): () => string {
  let lastMs = -1;
  let counter = 0;
  return () => {
    const nowMs = clock();
    assertTimeMs(nowMs);
    if (nowMs > lastMs) {
      lastMs = nowMs;
      counter = Math.floor(random() * 0x800) & 0x7ff;
    } else if (counter < counterMax) {
      counter += 1;
    } else {
      // Counter exhausted (or the clock went back far enough to exhaust it): borrow the next millisecond,
      // which keeps ids increasing at the cost of a timestamp at most a few ms ahead.
      lastMs += 1;
      assertTimeMs(lastMs);
      counter = Math.floor(random() * 0x800) & 0x7ff;
    }
    return format(lastMs, counter.toString(16).padStart(3, '0'), random);
  };
}
