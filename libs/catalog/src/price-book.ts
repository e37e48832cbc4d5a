import { z } from 'zod';
import { decimalToFraction, gcd, hasAtMostDecimals, type Fraction } from './exact';
import { parseYamlWith } from './issues';
import { catalogLimits } from './limits';
import type { ParseResult } from './result';

/** The price of one meter: `credits` per `per` units, and the same as an exact fraction per unit. */
export interface MeterPrice {
  readonly name: string;
  readonly credits: number;
  readonly per: number;
  /** Credits per single unit, exact. */
  readonly perUnit: Fraction;
}

/** A dimension multiplies the cost of every meter of its model by the factor of the request's value. */
export interface DimensionPricing {
  readonly name: string;
  /** As written in the file. */
  readonly factors: Readonly<Record<string, number>>;
  /** The same factors, exact. */
  readonly values: ReadonlyMap<string, Fraction>;
}

export interface ModelPricing {
  readonly name: string;
  /**
   * A common denominator of every meter's unit price (their least common multiple), or 0 when it does
   * not fit a safe integer. With it, integer quantities price without any gcd: see pricing.ts.
   */
  readonly commonDen: number;
  /** Each meter's unit price times commonDen (an integer), by meter; empty when commonDen is 0. */
  readonly perUnitOverCommon: ReadonlyMap<string, number>;
  /** Allowance windows are per model family (`video`, `code`). */
  readonly family: string;
  readonly meters: ReadonlyMap<string, MeterPrice>;
  /** Every dimension is required in a request. */
  readonly dimensions: readonly DimensionPricing[];
  readonly dimensionsByName: ReadonlyMap<string, DimensionPricing>;
}

export interface PriceBook {
  /** Recorded on every decision (`priceBookVersion`), so a charge can always be traced to its prices. */
  readonly version: string;
  readonly models: ReadonlyMap<string, ModelPricing>;
  readonly families: ReadonlySet<string>;
}

const idPattern = /^[A-Za-z0-9_.:-]{1,128}$/;
const meterPattern = /^[a-z][a-z0-9_]{0,63}$/;
const valuePattern = /^[A-Za-z0-9_.:-]{1,64}$/;
const familyPattern = /^[a-z][a-z0-9_-]{0,63}$/;

function decimal(decimals: number, max: number) {
  return z
    .number()
    .min(0)
    .max(max)
    .refine((x) => hasAtMostDecimals(x, decimals), { message: `must have at most ${decimals} decimal places` });
}

const meterSchema = z.strictObject({
  credits: decimal(catalogLimits.priceDecimalsMax, catalogLimits.unitPriceCreditsMax),
  per: z.number().int().min(1).max(catalogLimits.perUnitsMax).default(1),
  description: z.string().max(200).optional(),
});

const dimensionSchema = z
  .record(
    z.string().regex(valuePattern, 'must be 1-64 letters, digits, _ . : or -'),
    decimal(catalogLimits.factorDecimalsMax, catalogLimits.dimensionFactorMax),
  )
  .refine((values) => Object.keys(values).length >= 1, { message: 'must list at least one value' })
  .refine((values) => Object.keys(values).length <= catalogLimits.dimensionValuesMax, {
    message: `at most ${catalogLimits.dimensionValuesMax} values`,
  });

const modelSchema = z.strictObject({
  family: z.string().regex(familyPattern, 'must be lowercase letters, digits, _ or -, starting with a letter'),
  description: z.string().max(200).optional(),
  meters: z
    .record(z.string().regex(meterPattern, 'must be snake_case'), meterSchema)
    .refine((m) => Object.keys(m).length >= 1, { message: 'must list at least one meter' })
    .refine((m) => Object.keys(m).length <= catalogLimits.metersPerModelMax, {
      message: `at most ${catalogLimits.metersPerModelMax} meters`,
    }),
  dimensions: z
    .record(z.string().regex(meterPattern, 'must be snake_case'), dimensionSchema)
    .refine((d) => Object.keys(d).length <= catalogLimits.dimensionsPerModelMax, {
      message: `at most ${catalogLimits.dimensionsPerModelMax} dimensions`,
    })
    .default({}),
});

const priceBookFileSchema = z.strictObject({
  version: z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'must be 1-64 letters, digits, _ . : or - (quote it in YAML)'),
  models: z
    .record(z.string().regex(idPattern, 'must be 1-128 letters, digits, _ . : or -'), modelSchema)
    .refine((m) => Object.keys(m).length >= 1, { message: 'must list at least one model' })
    .refine((m) => Object.keys(m).length <= catalogLimits.modelsMax, { message: `at most ${catalogLimits.modelsMax} models` }),
});

type PriceBookFile = z.infer<typeof priceBookFileSchema>;

function compile(file: PriceBookFile): PriceBook {
  const models = new Map<string, ModelPricing>();
  const families = new Set<string>();
  for (const [name, raw] of Object.entries(file.models)) {
    const meters = new Map<string, MeterPrice>();
    for (const [meter, price] of Object.entries(raw.meters)) {
      meters.set(meter, {
        name: meter,
        credits: price.credits,
        per: price.per,
        perUnit: decimalToFraction(price.credits, catalogLimits.priceDecimalsMax, price.per),
      });
    }
    const dimensions: DimensionPricing[] = Object.entries(raw.dimensions).map(([dimension, factors]) => ({
      name: dimension,
      factors,
      values: new Map(Object.entries(factors).map(([value, f]) => [value, decimalToFraction(f, catalogLimits.factorDecimalsMax)])),
    }));
    let commonDen = 1;
    for (const price of meters.values()) {
      commonDen = (commonDen / gcd(commonDen, price.perUnit.den)) * price.perUnit.den;
      if (!Number.isSafeInteger(commonDen)) {
        commonDen = 0;
        break;
      }
    }
    const perUnitOverCommon = new Map<string, number>();
    if (commonDen > 0) for (const [meter, price] of meters) perUnitOverCommon.set(meter, price.perUnit.num * (commonDen / price.perUnit.den));
    models.set(name, {
      name,
      commonDen,
      perUnitOverCommon,
      family: raw.family,
      meters,
      dimensions,
      dimensionsByName: new Map(dimensions.map((d) => [d.name, d])),
    });
    families.add(raw.family);
  }
  return { version: file.version, models, families };
}

/** Parses `price-book.yaml`. Every problem is reported with its path, for a boot-time message. */
export function parsePriceBook(yamlText: string): ParseResult<PriceBook> {
  const parsed = parseYamlWith(yamlText, priceBookFileSchema);
  return parsed.ok ? { ok: true, value: compile(parsed.value) } : parsed;
}
