/**
 * @access/credit-ledger-adapters: the credit ledger's Postgres event store (append-only events, projections,
 * outbox, consumer offsets), its Kafka consumer and outbox publisher, its clock-driven jobs, and the SRE
 * operations (verify, rebuild, replay). See README.md for the tables and how exactly-once works.
 */
export { AccountCache } from './account-cache';
export { balanceCloudEvent, fromRow, ledgerCloudEvent, outboxMessage, type StoredEvent } from './event-codec';
export { completionCommand, intakeOf, lateAllowanceRefund, reserveCommand, type Intake } from './intake';
export { ExpiryJob, PlanGrantScheduler, monthlyPeriodKey } from './jobs';
export { LedgerConsumer, type LedgerConsumerObserver, type LedgerConsumerOptions } from './ledger-consumer';
export {
  AppendConflictError,
  LedgerStore,
  OffsetFencedError,
  loadStates,
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
export { publishInOrder, publishRequestBytesMax } from './publish';
