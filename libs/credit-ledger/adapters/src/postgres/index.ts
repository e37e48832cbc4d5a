/** The ledger's SQL module: every statement on its tables (see ledger-sql.ts). */
export { isStreamCollision, type BatchWrite } from './batch-sql';
export { LedgerSql, type EventFilter, type HeldLock, type ProjectionRows, type ReconcileBalanceRow, type ReconcileEventRow } from './ledger-sql';
export type { ProjectedAccount } from './projections-sql';
