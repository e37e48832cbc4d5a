export type { ConfigIssue, ParseResult } from './result';
export { catalogLimits, type CatalogLimits } from './limits';
export { parseDurationMs } from './duration';
export { type Fraction } from './exact';
export {
  PRIORITIES,
  allowsPriority,
  parsePlans,
  type AllowanceWindow,
  type Plan,
  type PlanDefaults,
  type PlanGrant,
  type PlansConfig,
  type Priority,
} from './plans';
export { parsePriceBook, type DimensionPricing, type MeterPrice, type ModelPricing, type PriceBook } from './price-book';
export {
  priceModel,
  priceRequest,
  type Dimensions,
  type Meters,
  type PriceResult,
  type PricingError,
  type PricingErrorCode,
} from './pricing';
export { checkCatalog, parseCatalog, type Catalog } from './catalog';
