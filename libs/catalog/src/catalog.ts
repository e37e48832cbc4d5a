import type { PlansConfig } from './plans';
import { parsePlans } from './plans';
import type { PriceBook } from './price-book';
import { parsePriceBook } from './price-book';
import type { ConfigIssue, ParseResult } from './result';

/** Both files, checked against each other. */
export interface Catalog {
  readonly plans: PlansConfig;
  readonly priceBook: PriceBook;
}

/**
 * Cross-file checks: every allowance window names a model family the price book prices (a typo there
 * would otherwise silently give nobody that allowance).
 */
export function checkCatalog(plans: PlansConfig, priceBook: PriceBook): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  for (const plan of plans.plans.values()) {
    plan.allowance.forEach((w, i) => {
      if (!priceBook.families.has(w.family)) {
        const known = [...priceBook.families].join(', ');
        issues.push({ path: `plans.${plan.name}.allowance[${i}].family`, message: `no model in the price book has family ${w.family} (known: ${known})` });
      }
    });
  }
  return issues;
}

/**
 * Parses plans.yaml and price-book.yaml and checks them together. Errors are prefixed with the file
 * they come from (`plans.yaml: plans.free.requestsPerMinute`).
 */
export function parseCatalog(plansYaml: string, priceBookYaml: string): ParseResult<Catalog> {
  const plans = parsePlans(plansYaml);
  const priceBook = parsePriceBook(priceBookYaml);
  const errors: ConfigIssue[] = [];
  if (!plans.ok) errors.push(...plans.errors.map((e) => ({ path: `plans.yaml: ${e.path}`, message: e.message })));
  if (!priceBook.ok) errors.push(...priceBook.errors.map((e) => ({ path: `price-book.yaml: ${e.path}`, message: e.message })));
  if (!plans.ok || !priceBook.ok) return { ok: false, errors };
  const cross = checkCatalog(plans.value, priceBook.value);
  if (cross.length > 0) return { ok: false, errors: cross.map((e) => ({ path: `plans.yaml: ${e.path}`, message: e.message })) };
  return { ok: true, value: { plans: plans.value, priceBook: priceBook.value } };
}
