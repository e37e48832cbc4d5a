/**
 * What the ledger's use cases need from its store (implemented by `LedgerStore` in @access/credit-ledger-adapters):
 * committed states, one append path for every writer, and the few reads the clock-driven jobs select accounts by.
 */
import type { CreditAccountState } from '@access/credit-ledger-domain';
import type { AccountCommand, ExecuteOptions, ExecuteResult, StoredEvent } from './commands';

export interface LedgerJobLimits {
  /** Accounts one expiry round examines, and allowance parts one round prunes. */
  readonly expiryAccountsPerRoundMax: number;
  /** Accounts one plan-grant round grants per plan. */
  readonly planGrantAccountsPerRoundMax: number;
}

export interface LedgerStorePort {
  readonly limits: LedgerJobLimits;
  /** The committed state of an account (initial state when it has no events). */
  state(accountId: string): Promise<CreditAccountState>;
  /** An account's events after `afterVersion`, in order, at most `limit` (and at most the store's page size). */
  events(accountId: string, afterVersion: number, limit: number): Promise<StoredEvent[]>;
  /**
   * Decides `items` in order against the accounts' committed states and writes everything they produced, with
   * the options' offsets, allowances and dead letters, in one transaction.
   */
  execute<Ref = unknown>(items: readonly AccountCommand<Ref>[], options?: ExecuteOptions<Ref>): Promise<ExecuteResult<Ref>>;
  /** Accounts with a reservation or grant whose expiry is at or before `now`, at most `limit`. */
  accountsWithExpiryDue(now: string, limit: number): Promise<string[]>;
  /** Deletes at most `limit` allowance parts of decisions before `before`; returns how many. */
  pruneAllowances(before: string, limit: number): Promise<number>;
  /** Accounts on `plan` whose last plan grant is not `grantId`, at most `limit`. */
  accountsMissingPlanGrant(plan: string, grantId: string, limit: number): Promise<string[]>;
}
