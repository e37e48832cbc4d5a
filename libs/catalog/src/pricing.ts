import { gcd, gcdBig, nanoUnits, nanoUnitsBig, QUANTITY_SCALE, QUANTITY_SCALE_BIG } from './exact';
import { catalogLimits } from './limits';
import type { ModelPricing, PriceBook } from './price-book';

export type PricingErrorCode =
  | 'unknown_model'
  | 'unknown_meter'
  | 'invalid_quantity'
  | 'missing_dimension'
  | 'unknown_dimension'
  | 'unknown_dimension_value'
  | 'cost_too_large';

/** Why a request could not be priced; `path` is relative to the request (`meters.video_seconds`). */
export interface PricingError {
  readonly code: PricingErrorCode;
  readonly path: string;
  readonly message: string;
}

export type PriceResult = { readonly ok: true; readonly credits: number } | { readonly ok: false; readonly error: PricingError };

export type Meters = Readonly<Record<string, number>>;
export type Dimensions = Readonly<Record<string, string>>;

function fail(code: PricingErrorCode, path: string, message: string): PriceResult {
  return { ok: false, error: { code, path, message } };
}

/**
 * The cost of a request in whole credits: Σ quantity × unit price × Π dimension factors, rounded UP
 * once, at the end, computed exactly (see exact.ts).
 *
 * Quantities are non-negative finite numbers. Integer quantities are exact at any size; a fractional
 * quantity is read to the nearest nano-unit (1e-9), so that 0.1 + 0.2 sent by a client as
 * 0.30000000000000004 seconds costs what 0.3 seconds costs. A meter the request leaves out counts as
 * zero; every dimension of the model is required.
 */
export function priceRequest(priceBook: PriceBook, model: string, meters: Meters, dimensions: Dimensions): PriceResult {
  const pricing = priceBook.models.get(model);
  if (pricing === undefined) return fail('unknown_model', 'model', `unknown model ${JSON.stringify(model)}`);
  return priceModel(pricing, meters, dimensions);
}

/**
 * priceRequest for a model already looked up. This is on admission's hot path. Integer quantities
 * (the usual case) take a fast path: every unit price is an integer over the model's common
 * denominator, so the cost is one integer sum, times the dimension factors, divided once; no gcd, no
 * allocation. Fractional quantities, or sums that outgrow 2^53, take the general exact path.
 */
export function priceModel(pricing: ModelPricing, meters: Meters, dimensions: Dimensions): PriceResult {
  let fast = pricing.commonDen > 0;
  let sum = 0;
  for (const name in meters) {
    const price = pricing.meters.get(name);
    if (price === undefined) return fail('unknown_meter', `meters.${name}`, `model ${pricing.name} has no meter ${JSON.stringify(name)}`);
    const q = meters[name];
    if (typeof q !== 'number' || !Number.isFinite(q) || q < 0 || q > catalogLimits.meterQuantityMax) {
      return fail('invalid_quantity', `meters.${name}`, `must be a finite number from 0 to ${catalogLimits.meterQuantityMax}`);
    }
    if (!fast) continue;
    if (Number.isInteger(q)) sum += q * (pricing.perUnitOverCommon.get(name) ?? 0);
    else fast = false;
  }
  for (const name in dimensions) {
    if (!pricing.dimensionsByName.has(name)) {
      return fail('unknown_dimension', `dimensions.${name}`, `model ${pricing.name} has no dimension ${JSON.stringify(name)}`);
    }
  }
  let factorNum = 1;
  let factorDen = 1;
  for (const dimension of pricing.dimensions) {
    const value = dimensions[dimension.name];
    if (value === undefined) return fail('missing_dimension', `dimensions.${dimension.name}`, `model ${pricing.name} requires ${dimension.name}`);
    const factor = typeof value === 'string' ? dimension.values.get(value) : undefined;
    if (factor === undefined) {
      const allowed = [...dimension.values.keys()].join(', ');
      return fail('unknown_dimension_value', `dimensions.${dimension.name}`, `must be one of ${allowed}`);
    }
    factorNum *= factor.num;
    factorDen *= factor.den;
  }
  let credits: number;
  const num = sum * factorNum;
  const den = pricing.commonDen * factorDen;
  // All terms are non-negative, so a float sum or product that went past 2^53 is still seen as past it.
  // Math.ceil(num / den) is exact for num < 2^53: a non-integer quotient is at least 1/den above its
  // floor, far more than the division's rounding error.
  if (fast && num <= Number.MAX_SAFE_INTEGER && den <= Number.MAX_SAFE_INTEGER) credits = num === 0 ? 0 : Math.ceil(num / den);
  else credits = priceExact(pricing, meters, dimensions);
  if (credits > catalogLimits.requestCreditsMax) {
    return fail('cost_too_large', 'meters', `costs more than ${catalogLimits.requestCreditsMax} credits`);
  }
  return { ok: true, credits };
}

/**
 * The general exact path, for validated input: one reduced fraction as the accumulator on float64
 * safe integers; a request whose fraction outgrows 2^53 is recomputed with BigInt.
 */
function priceExact(pricing: ModelPricing, meters: Meters, dimensions: Dimensions): number {
  let num = 0;
  let den = 1;
  for (const name in meters) {
    const price = pricing.meters.get(name);
    const q = meters[name];
    if (price === undefined || q === undefined || q === 0 || price.perUnit.num === 0) continue;
    let qNum = q;
    let qDen = 1;
    if (!Number.isInteger(q)) {
      qNum = nanoUnits(q);
      qDen = QUANTITY_SCALE;
    }
    let tNum = qNum * price.perUnit.num;
    let tDen = qDen * price.perUnit.den;
    // NaN (from nanoUnits) fails this test too, which is what we want.
    if (!(tNum <= Number.MAX_SAFE_INTEGER && tDen <= Number.MAX_SAFE_INTEGER)) return priceExactBig(pricing, meters, dimensions);
    const gt = gcd(tNum, tDen);
    tNum /= gt;
    tDen /= gt;
    const g = gcd(den, tDen);
    const sumDen = (den / g) * tDen;
    const sumNum = num * (tDen / g) + tNum * (den / g);
    if (!(sumNum <= Number.MAX_SAFE_INTEGER && sumDen <= Number.MAX_SAFE_INTEGER)) return priceExactBig(pricing, meters, dimensions);
    const gs = gcd(sumNum, sumDen);
    num = sumNum / gs;
    den = sumDen / gs;
  }
  for (const dimension of pricing.dimensions) {
    const factor = dimension.values.get(dimensions[dimension.name] ?? '');
    if (factor === undefined) continue;
    // Cross-reduce before multiplying so the product stays small; den and factor.den are at least 1,
    // so neither gcd is 0.
    const g1 = gcd(num, factor.den);
    const g2 = gcd(factor.num, den);
    const pNum = (num / g1) * (factor.num / g2);
    const pDen = (den / g2) * (factor.den / g1);
    if (!(pNum <= Number.MAX_SAFE_INTEGER && pDen <= Number.MAX_SAFE_INTEGER)) return priceExactBig(pricing, meters, dimensions);
    num = pNum;
    den = pNum === 0 ? 1 : pDen;
  }
  return num === 0 ? 0 : Math.ceil(num / den);
}

/** The same computation in BigInt, for already validated input whose fraction outgrew 2^53. */
function priceExactBig(pricing: ModelPricing, meters: Meters, dimensions: Dimensions): number {
  let num = 0n;
  let den = 1n;
  for (const name in meters) {
    const price = pricing.meters.get(name);
    const q = meters[name];
    if (price === undefined || q === undefined || q === 0) continue;
    const qNum = Number.isInteger(q) ? BigInt(q) : nanoUnitsBig(q);
    const qDen = Number.isInteger(q) ? 1n : QUANTITY_SCALE_BIG;
    const tNum = qNum * BigInt(price.perUnit.num);
    const tDen = qDen * BigInt(price.perUnit.den);
    num = num * tDen + tNum * den;
    den = den * tDen;
    const g = gcdBig(num, den);
    if (g > 1n) {
      num /= g;
      den /= g;
    }
  }
  for (const dimension of pricing.dimensions) {
    const factor = dimension.values.get(dimensions[dimension.name] ?? '');
    if (factor === undefined) continue;
    num *= BigInt(factor.num);
    den *= BigInt(factor.den);
  }
  const credits = (num + den - 1n) / den;
  // Anything above requestCreditsMax is rejected by the caller; clamp so the Number is still exact.
  const cap = BigInt(catalogLimits.requestCreditsMax) + 1n;
  return Number(credits > cap ? cap : credits);
}
