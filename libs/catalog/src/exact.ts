/**
 * Exact rational arithmetic on float64 integers. Prices are decimal ("0.2 credits per 1k tokens") and
 * binary floating point cannot hold them, so 0.1 + 0.2 style errors would turn an exact 3 credits into
 * 3.0000000000000004 and round up to 4. Every price, factor and quantity is therefore carried as a
 * reduced fraction of safe integers, and a cost is rounded up only once, at the end.
 */

/** A non-negative rational num/den with den > 0, both safe integers, in lowest terms. */
export interface Fraction {
  readonly num: number;
  readonly den: number;
}

/** Greatest common divisor of two non-negative safe integers (gcd(0, 0) = 0). */
export function gcd(a: number, b: number): number {
  while (b !== 0) {
    const r = a % b;
    a = b;
    b = r;
  }
  return a;
}

export function gcdBig(a: bigint, b: bigint): bigint {
  while (b !== 0n) {
    const r = a % b;
    a = b;
    b = r;
  }
  return a;
}

/** Whether `x` is written with at most `decimals` decimal places (within float64's own noise). */
export function hasAtMostDecimals(x: number, decimals: number): boolean {
  const scale = 10 ** decimals;
  return Number.isFinite(x) && Math.round(x * scale) / scale === x;
}

/**
 * `x / per` as an exact fraction, where `x` has at most `decimals` decimal places (check that first
 * with hasAtMostDecimals) and `per` is a positive integer. Used at parse time only.
 */
export function decimalToFraction(x: number, decimals: number, per = 1): Fraction {
  const scale = 10 ** decimals;
  const num = Math.round(x * scale);
  const den = scale * per;
  const g = gcd(num, den);
  return g === 0 ? { num: 0, den: 1 } : { num: num / g, den: den / g };
}

/** Quantities are honoured to this many decimal places; finer digits are float noise (see pricing.ts). */
export const QUANTITY_SCALE = 1_000_000_000;
export const QUANTITY_SCALE_BIG = 1_000_000_000n;

/**
 * The numerator over QUANTITY_SCALE of a non-integer quantity, rounded to the nearest nano-unit, or
 * NaN when it is not a safe integer (quantities above about nine million with a fractional part).
 */
export function nanoUnits(q: number): number {
  const whole = Math.floor(q);
  const n = whole * QUANTITY_SCALE + Math.round((q - whole) * QUANTITY_SCALE);
  return Number.isSafeInteger(n) ? n : Number.NaN;
}

export function nanoUnitsBig(q: number): bigint {
  const whole = Math.floor(q);
  // q - whole is exact in float64 (both share q's exponent), so only the final rounding is inexact.
  return BigInt(whole) * QUANTITY_SCALE_BIG + BigInt(Math.round((q - whole) * QUANTITY_SCALE));
}
