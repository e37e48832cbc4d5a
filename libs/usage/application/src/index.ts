/**
 * @access/usage-application: usage-ingest's use cases, between its pure domain (@access/usage-domain) and its
 * adapters (@access/usage-adapters). Ingesting a table's batches (dedupe, the completions' allowance split, insert,
 * dead letters) and retention; every read and write goes through the ports.
 */
export { TableIngest, type Kept, type PartitionState, type TableIngestOptions } from './table-ingest';
export { withAllowances, type AllowanceDeps } from './allowances';
export { RetentionJob } from './retention-job';
export type { DecisionsProgress, IngestEvent, IngestObserver, PartitionWatermark, RowWriter, UsageStorePort } from './ports';
