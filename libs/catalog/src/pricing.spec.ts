import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { catalogLimits } from './limits';
import { parsePriceBook, type PriceBook } from './price-book';
import { priceRequest, type PricingErrorCode } from './pricing';

function book(models: Record<string, unknown>): PriceBook {
  const result = parsePriceBook(stringify({ version: 'test', models }));
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return result.value;
}

const shipped = book({
  'sora-2': {
    family: 'video',
    meters: { video_seconds: { credits: 10 } },
    dimensions: { resolution: { '480p': 0.5, '720p': 1, '1080p': 2 } },
  },
  'codex-1': {
    family: 'code',
    meters: { input_tokens: { credits: 0.2, per: 1000 }, output_tokens: { credits: 0.8, per: 1000 } },
  },
});

const video = (seconds: number, resolution: string) => priceRequest(shipped, 'sora-2', { video_seconds: seconds }, { resolution });
const code = (meters: Record<string, number>) => priceRequest(shipped, 'codex-1', meters, {});

describe('priceRequest', () => {
  it.each([
    ['10 s at 720p', video(10, '720p'), 100],
    ['10 s at 1080p (factor 2)', video(10, '1080p'), 200],
    ['10 s at 480p (factor 0.5)', video(10, '480p'), 50],
    ['0 s', video(0, '1080p'), 0],
    ['0.1 s rounds up to a whole credit', video(0.1, '720p'), 1],
    ['0.05 s at 480p (0.25 credits) rounds up', video(0.05, '480p'), 1],
    ['0.7 s at 480p (3.5 credits) rounds up', video(0.7, '480p'), 4],
    ['0.3 s is exactly 3 credits', video(0.3, '720p'), 3],
    ['1.1 s is exactly 11 credits', video(1.1, '720p'), 11],
    ['0.1 + 0.2 s (sent as 0.30000000000000004) costs what 0.3 s costs', video(0.1 + 0.2, '720p'), 3],
    ['8.333 s at 1080p (166.66) rounds up', video(8.333, '1080p'), 167],
    ['1000 input tokens (0.2) rounds up', code({ input_tokens: 1000 }), 1],
    ['5000 input tokens is exactly 1', code({ input_tokens: 5000 }), 1],
    ['5001 input tokens rounds up to 2', code({ input_tokens: 5001 }), 2],
    ['100k in + 10k out = 20 + 8', code({ input_tokens: 100_000, output_tokens: 10_000 }), 28],
    // 0.1 + 0.2 credits: exactly 0.3, one credit.
    ['500 in + 250 out = 0.1 + 0.2', code({ input_tokens: 500, output_tokens: 250 }), 1],
    ['1500 in + 3375 out = 0.3 + 2.7', code({ input_tokens: 1500, output_tokens: 3375 }), 3],
    // 0.2 + 2.8 credits: exactly 3, where float64 per-1k arithmetic says 3.0000000000000004.
    ['1000 in + 3500 out = 0.2 + 2.8', code({ input_tokens: 1000, output_tokens: 3500 }), 3],
    ['a meter left out counts as zero', code({ output_tokens: 1250 }), 1],
    ['no meters at all', code({}), 0],
    ['1e12 input + 1e12 output is exactly the request maximum', code({ input_tokens: 1e12, output_tokens: 1e12 }), 1_000_000_000],
    // 12345678.5 s does not fit nano-units in float64: the BigInt path takes over.
    ['a huge fractional quantity (BigInt path)', video(12_345_678.5, '720p'), 123_456_785],
  ])('given %s, then the cost is exact', (_label, result, credits) => {
    expect(result).toEqual({ ok: true, credits });
  });

  it('demonstrates why: naive float64 pricing overcharges where the exact one does not', () => {
    expect(Math.ceil((0.1 + 0.2) * 10)).toBe(4);
    expect(Math.ceil((1000 / 1000) * 0.2 + (3500 / 1000) * 0.8)).toBe(4);
  });

  it('given prices whose denominators overflow float64, then the BigInt path is still exact', () => {
    const tiny = book({ m: { family: 'f', meters: { u: { credits: 0.000003, per: 1_000_000 }, v: { credits: 0.000007, per: 999_999 } } } });
    // 0.5 units at 3e-12 plus 999999 * 7e-12 units: far below one credit, so 1.
    expect(priceRequest(tiny, 'm', { u: 0.5, v: 999_999 }, {})).toEqual({ ok: true, credits: 1 });
    // 1e12 units of u at 3e-12 = 3 credits exactly, plus 0.000000001 units of v: just above 3.
    expect(priceRequest(tiny, 'm', { u: 1e12 }, {})).toEqual({ ok: true, credits: 3 });
    expect(priceRequest(tiny, 'm', { u: 1e12, v: 0.000000001 }, {})).toEqual({ ok: true, credits: 4 });
  });

  type ErrorCase = [label: string, model: string, meters: Record<string, unknown>, dimensions: Record<string, unknown>, code: PricingErrorCode, path: string];
  const errors: ErrorCase[] = [
    ['unknown model', 'sora-3', { video_seconds: 1 }, { resolution: '720p' }, 'unknown_model', 'model'],
    ['unknown meter', 'sora-2', { frames: 1 }, { resolution: '720p' }, 'unknown_meter', 'meters.frames'],
    ['negative quantity', 'sora-2', { video_seconds: -1 }, { resolution: '720p' }, 'invalid_quantity', 'meters.video_seconds'],
    ['NaN quantity', 'sora-2', { video_seconds: Number.NaN }, { resolution: '720p' }, 'invalid_quantity', 'meters.video_seconds'],
    ['infinite quantity', 'codex-1', { input_tokens: Number.POSITIVE_INFINITY }, {}, 'invalid_quantity', 'meters.input_tokens'],
    ['quantity as a string', 'codex-1', { input_tokens: '10' }, {}, 'invalid_quantity', 'meters.input_tokens'],
    ['quantity above the maximum', 'codex-1', { input_tokens: 1e13 }, {}, 'invalid_quantity', 'meters.input_tokens'],
    ['missing dimension', 'sora-2', { video_seconds: 1 }, {}, 'missing_dimension', 'dimensions.resolution'],
    ['unknown dimension', 'sora-2', { video_seconds: 1 }, { resolution: '720p', fps: '60' }, 'unknown_dimension', 'dimensions.fps'],
    ['unknown dimension value', 'sora-2', { video_seconds: 1 }, { resolution: '4k' }, 'unknown_dimension_value', 'dimensions.resolution'],
    ['dimension value not a string', 'sora-2', { video_seconds: 1 }, { resolution: 720 }, 'unknown_dimension_value', 'dimensions.resolution'],
    ['dimension on a model without dimensions', 'codex-1', {}, { resolution: '720p' }, 'unknown_dimension', 'dimensions.resolution'],
    ['cost above the request maximum', 'sora-2', { video_seconds: 1e9 }, { resolution: '720p' }, 'cost_too_large', 'meters'],
  ];

  it.each(errors)('given %s, then the error names its code and path', (_label, model, meters, dimensions, code, path) => {
    const result = priceRequest(shipped, model, meters as Record<string, number>, dimensions as Record<string, string>);
    expect(result).toEqual({ ok: false, error: { code, path, message: expect.any(String) } });
  });

  it('given an unknown dimension value, then the message lists the allowed ones', () => {
    const result = video(1, '4k');
    expect(result.ok ? '' : result.error.message).toBe('must be one of 480p, 720p, 1080p');
  });
});

describe('priceRequest properties', () => {
  const meterArb = fc.record({
    priceMicro: fc.integer({ min: 0, max: 50_000_000 }),
    per: fc.constantFrom(1, 7, 1000, 1_000_000),
    quantity: fc.integer({ min: 0, max: 10_000_000_000 }),
    quantityDecimals: fc.integer({ min: 0, max: 9 }),
  });
  const inputArb = fc.record({
    meters: fc.array(meterArb, { minLength: 1, maxLength: 4 }),
    factorsMicro: fc.array(fc.integer({ min: 0, max: 5_000_000 }), { maxLength: 3 }),
  });

  type Input = typeof inputArb extends fc.Arbitrary<infer T> ? T : never;

  /** The reference: the same formula on exact decimals in BigInt, with no cleverness. */
  function reference(input: Input): bigint {
    let num = 0n;
    let den = 1n;
    for (const m of input.meters) {
      const tNum = BigInt(m.quantity) * BigInt(m.priceMicro);
      const tDen = 10n ** BigInt(m.quantityDecimals) * 1_000_000n * BigInt(m.per);
      num = num * tDen + tNum * den;
      den *= tDen;
    }
    for (const f of input.factorsMicro) {
      num *= BigInt(f);
      den *= 1_000_000n;
    }
    return (num + den - 1n) / den;
  }

  it('the cost equals the exact rational cost rounded up, for decimal prices, factors and quantities', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const meters: Record<string, { credits: number; per: number }> = {};
        const quantities: Record<string, number> = {};
        input.meters.forEach((m, i) => {
          meters[`m${i}`] = { credits: m.priceMicro / 1e6, per: m.per };
          quantities[`m${i}`] = m.quantity / 10 ** m.quantityDecimals;
        });
        const dimensions: Record<string, Record<string, number>> = {};
        const chosen: Record<string, string> = {};
        input.factorsMicro.forEach((f, i) => {
          dimensions[`d${i}`] = { v: f / 1e6 };
          chosen[`d${i}`] = 'v';
        });
        const priced = priceRequest(book({ x: { family: 'f', meters, dimensions } }), 'x', quantities, chosen);
        const expected = reference(input);
        if (expected > BigInt(catalogLimits.requestCreditsMax)) {
          expect(priced.ok ? 'ok' : priced.error.code).toBe('cost_too_large');
        } else {
          expect(priced).toEqual({ ok: true, credits: Number(expected) });
        }
      }),
      { numRuns: 500 },
    );
  });

  it('more of a meter never costs less', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1e6, noNaN: true }), fc.double({ min: 0, max: 1e6, noNaN: true }), fc.constantFrom('480p', '720p', '1080p'), (a, b, resolution) => {
        const [low, high] = a <= b ? [a, b] : [b, a];
        const lowCost = video(low, resolution);
        const highCost = video(high, resolution);
        expect(lowCost.ok && highCost.ok && lowCost.credits <= highCost.credits).toBe(true);
      }),
    );
  });
});
