import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parsePriceBook, priceRequest, type PriceBook } from '@access/catalog';
import type { PriceFn } from '@access/usage-domain';

/** The price book as a PriceFn: what request_usage.charged_credits is computed with. */
export function priceFnOf(priceBook: PriceBook): PriceFn {
  return (model, meters, dimensions) => {
    const result = priceRequest(priceBook, model, meters, dimensions);
    return result.ok ? { ok: true, credits: result.credits } : { ok: false, reason: `${result.error.code}: ${result.error.message}` };
  };
}

/** Reads `price-book.yaml` from ACCESS_CONFIG_DIR; throws with every problem of the file (a boot-time failure). */
export function loadPriceBook(configDir: string): PriceBook {
  const file = join(configDir, 'price-book.yaml');
  const parsed = parsePriceBook(readFileSync(file, 'utf8'));
  if (!parsed.ok) throw new Error(`${file}: ${parsed.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`);
  return parsed.value;
}
