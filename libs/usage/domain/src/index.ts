/**
 * @access/usage-domain: what usage-ingest decides, without I/O. Events become rows (rows.ts), batches are planned
 * so that no row is inserted twice (dedupe.ts), inserts are bounded (chunk.ts, limits.ts) and old months expire
 * (retention.ts).
 */
export {
  INGEST_TABLES,
  gpuSecondsMax,
  type DecisionRow,
  type IngestRow,
  type IngestTable,
  type KafkaOrigin,
  type LedgerRow,
  type MapContext,
  type MappedRow,
  type PriceFn,
  type UsageRow,
} from './columns';
export { mapEvent, withAllowance } from './rows';
export { shortEventName } from './ledger-rows';
export { RecentIds, dedupeKeyOf, planBatch, type BatchPlan, type Candidate, type DedupeKey, type SkipReason } from './dedupe';
export { chunkLines } from './chunk';
export { expiredPartitions, isExpired, monthEndMs, monthOf, retentionCutoffMs } from './retention';
export { dateTimeOfMs, splitIsoTime, type SplitTime } from './time';
export { defaultIngestLimits, validateIngestLimits, type IngestLimits, type LimitsResult } from './limits';
