/**
 * @access/credit-ledger-adapters: the credit ledger's Postgres event store (append-only events, projections,
 * outbox, consumer offsets; every SQL statement in ./postgres), its Kafka consumer and outbox publisher, and the
 * SRE operations (verify, rebuild, replay). The use cases are in @access/credit-ledger-application. See README.md
 * for the tables and how exactly-once works.
 */
export { AccountCache } from './account-cache';
export { balanceCloudEvent, fromRow, ledgerCloudEvent, outboxMessage, type StoredEvent } from './event-codec';
export { LedgerConsumer, type LedgerConsumerObserver, type LedgerConsumerOptions } from './ledger-consumer';
export {
  AppendConflictError,
  LedgerStore,
  OffsetFencedError,
  type AccountCommand,
  type AllowanceRecord,
  type CommandInput,
  type CommandOutcome,
  type DeadLetter,
  type ExecuteOptions,
  type ExecuteResult,
  type LedgerStoreObserver,
  type LedgerStoreOptions,
  type OffsetAdvance,
} from './ledger-store';
export { defaultStoreLimits, validateStoreLimits, type LedgerStoreLimits } from './limits';
export { CreateLedgerTables1733000000000, ledgerMigrations } from './migrations';
export { rebuildProjections, replayLedger, republishBalances, verifyLedger, type AccountReport, type Progress, type ReplayOptions, type VerifyReport } from './operations';
export { coalesceBalances, formatOutboxLine, parseOutboxLine, type OutboxKind, type OutboxLine } from './outbox-lines';
export { OutboxPublisher, type OutboxObserver, type OutboxTopics } from './outbox-publisher';
export { LedgerSql, type ReconcileBalanceRow, type ReconcileEventRow } from './postgres';
export { publishInOrder, publishRequestBytesMax } from './publish';
