/**
 * @access/credit-ledger-application: the ledger's use cases. What a consumed decision or completion becomes
 * (`intakeOf`), how a batch of commands is decided (`decideBatch`), the account use cases behind the HTTP API,
 * the clock-driven jobs, and the port they need from a store (`LedgerStorePort`). No I/O of its own.
 */
export { AccountLocks } from './account-locks';
export {
  AccountUseCases,
  failureOf,
  type AdjustmentInput,
  type Answer,
  type GrantInput,
  type LedgerFailure,
  type LedgerFailureCode,
} from './account-use-cases';
export type {
  AccountCommand,
  AllowanceRecord,
  CommandInput,
  CommandOutcome,
  DeadLetter,
  ExecuteOptions,
  ExecuteResult,
  OffsetAdvance,
  StoredEvent,
} from './commands';
export { AppendConflictError, OffsetFencedError } from './errors';
export { decideBatch, type DecidedBatch } from './decide-batch';
export { intakeBatch, type ConsumedIntake, type IntakeBatch } from './intake-batch';
export { completionCommand, intakeOf, lateAllowanceRefund, reserveCommand, type Intake } from './intake';
export { ExpiryJob, PlanGrantScheduler, monthlyPeriodKey } from './jobs';
export type { LedgerJobLimits, LedgerStorePort } from './ports';
