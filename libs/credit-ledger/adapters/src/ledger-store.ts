/**
 * The ledger's event store in Postgres: loads account streams, decides commands with the pure decider
 * (`decideBatch`), and appends what they produced together with the projections, the outbox messages, the
 * consumer offsets and the dead letters of the same batch, in ONE transaction (postgres/batch-sql.ts). Everything
 * that writes (consumers, HTTP, jobs) goes through `execute`, so they share one append path and one concurrency
 * rule:
 *
 * - Optimistic concurrency: the stream position is the primary key (account_id, version). A writer that decided
 *   on a stale state collides on it, rolls back, reloads those accounts and decides the whole batch again
 *   (at most `appendRetriesMax` times).
 * - Hot accounts stay folded in a bounded cache, and a batch never re-reads what it just wrote.
 * - Offsets are fenced: a batch advances a partition only from the offset it started at, so two consumers
 *   that both believe they own a partition cannot both apply it.
 *
 * Within one process, batches that share an account run one after the other (`AccountLocks`, first come first
 * served), so the consumers, HTTP and the jobs never conflict with each other; batches on disjoint accounts
 * (different Kafka partitions) decide and write concurrently, each in its own transaction. Conflicts come from
 * other processes (a second instance during a rebalance, the CLI).
 */
import type { DataSource } from 'typeorm';
import type { CreditAccountState } from '@access/credit-ledger-domain';
import { initialState } from '@access/credit-ledger-domain';
import {
  AccountLocks,
  AppendConflictError,
  decideBatch,
  type AccountCommand,
  type ExecuteOptions,
  type ExecuteResult,
  type LedgerStorePort,
  type StoredEvent,
} from '@access/credit-ledger-application';
import { SOURCES } from '@access/contracts';
import { AccountCache } from './account-cache';
import { batchOutbox } from './batch-outbox';
import { defaultStoreLimits, type LedgerStoreLimits } from './limits';
import { LedgerSql, isStreamCollision } from './postgres';

export {
  AppendConflictError,
  OffsetFencedError,
  type AccountCommand,
  type AllowanceRecord,
  type CommandInput,
  type CommandOutcome,
  type DeadLetter,
  type ExecuteOptions,
  type ExecuteResult,
  type OffsetAdvance,
} from '@access/credit-ledger-application';

export interface LedgerStoreObserver {
  conflict?(accounts: number): void;
  committed?(commands: number, events: number, durationMs: number): void;
}

export interface LedgerStoreOptions {
  readonly limits?: LedgerStoreLimits;
  readonly observer?: LedgerStoreObserver;
  /** Called after every commit that wrote outbox rows (the publisher wakes up). */
  readonly onOutbox?: () => void;
  /** CloudEvents `source` of dead letters. */
  readonly source?: string;
}

export class LedgerStore implements LedgerStorePort {
  readonly limits: LedgerStoreLimits;
  /** Every statement on the ledger's tables. */
  readonly sql: LedgerSql;
  private readonly cache: AccountCache;
  private readonly locks = new AccountLocks();

  constructor(db: DataSource, private readonly options: LedgerStoreOptions = {}) {
    this.limits = options.limits ?? defaultStoreLimits;
    this.cache = new AccountCache(this.limits.cachedAccountsMax);
    this.sql = new LedgerSql(db);
  }

  get cachedAccounts(): number {
    return this.cache.size;
  }

  /** Forgets every cached state (tests, and after `rebuild`). */
  clearCache(): void {
    this.cache.clear();
  }

  // -------------------------------------------------------------------------------------------------
  // Reading

  /** The committed state of an account (initial state when it has no events). */
  async state(accountId: string): Promise<CreditAccountState> {
    const states = await this.states([accountId]);
    return states.get(accountId) ?? initialState();
  }

  /** Committed states, from the cache or folded from the events. */
  async states(accountIds: readonly string[]): Promise<Map<string, CreditAccountState>> {
    const result = new Map<string, CreditAccountState>();
    const missing: string[] = [];
    for (const accountId of new Set(accountIds)) {
      const cached = this.cache.get(accountId);
      if (cached !== undefined) result.set(accountId, cached);
      else missing.push(accountId);
    }
    if (missing.length > 0) {
      const loaded = await this.sql.loadStates(missing);
      for (const accountId of missing) {
        const state = loaded.get(accountId) ?? initialState();
        result.set(accountId, state);
        // A concurrent append may have cached a newer state meanwhile: never replace it with an older one.
        const current = this.cache.get(accountId);
        if (current === undefined || current.version < state.version) this.cache.set(accountId, state);
      }
    }
    return result;
  }

  /** An account's events after `afterVersion`, in order, at most `limit` (and at most `eventsPageMax`). */
  events(accountId: string, afterVersion: number, limit: number): Promise<StoredEvent[]> {
    return this.sql.events(accountId, afterVersion, Math.min(limit, this.limits.eventsPageMax));
  }

  /** The stored next offset of each partition of `topic` for `groupId`. */
  storedOffsets(groupId: string, topic: string): Promise<Map<number, string>> {
    return this.sql.storedOffsets(groupId, topic);
  }

  /** The allowance parts recorded for `admissionIds`. */
  allowancesOf(admissionIds: readonly string[]): Promise<Map<string, number>> {
    return this.sql.allowancesOf(admissionIds);
  }

  accountsWithExpiryDue(now: string, limit: number): Promise<string[]> {
    return this.sql.accountsWithExpiryDue(now, limit);
  }

  pruneAllowances(before: string, limit: number): Promise<number> {
    return this.sql.pruneAllowances(before, limit);
  }

  accountsMissingPlanGrant(plan: string, grantId: string, limit: number): Promise<string[]> {
    return this.sql.accountsMissingPlanGrant(plan, grantId, limit);
  }

  // -------------------------------------------------------------------------------------------------
  // Writing

  /**
   * Decides `items` in order against the accounts' committed states and writes everything they produced,
   * with the options' offsets, allowances and dead letters, in one transaction. Serialized per account.
   */
  execute<Ref = unknown>(items: readonly AccountCommand<Ref>[], options: ExecuteOptions<Ref> = {}): Promise<ExecuteResult<Ref>> {
    if (items.length > this.limits.batchCommandsMax) {
      return Promise.reject(new RangeError(`at most ${this.limits.batchCommandsMax} commands per batch, got ${items.length}`));
    }
    const accountIds = [...new Set(items.map((i) => i.accountId))];
    return this.locks.holding(accountIds, () => this.executeNow(items, accountIds, options));
  }

  private async executeNow<Ref>(items: readonly AccountCommand<Ref>[], accountIds: readonly string[], options: ExecuteOptions<Ref>): Promise<ExecuteResult<Ref>> {
    for (let attempt = 0; ; attempt++) {
      const startedMs = performance.now();
      await options.prepare?.();
      const before = await this.states(accountIds);
      const batch = decideBatch(items, before);
      const deadLetters = [...(options.deadLetters ?? []), ...(options.deadLettersFor?.(batch.outcomes) ?? [])];
      try {
        const wroteOutbox = await this.sql.writeBatch({
          batch,
          before,
          outbox: batchOutbox(batch, deadLetters, this.options.source ?? SOURCES.creditLedger),
          offsets: options.offsets ?? [],
          allowances: options.allowances ?? [],
        });
        for (const [accountId, state] of batch.after) this.cache.set(accountId, state);
        if (wroteOutbox) this.options.onOutbox?.();
        this.options.observer?.committed?.(items.length, batch.events.length, performance.now() - startedMs);
        return { outcomes: batch.outcomes, appendedEvents: batch.events.length, retries: attempt };
      } catch (error) {
        // Whatever failed, the cache may now be behind Postgres for these accounts (another writer won).
        for (const accountId of batch.after.keys()) this.cache.evict(accountId);
        if (!isStreamCollision(error)) throw error;
        this.options.observer?.conflict?.(batch.after.size);
        if (attempt >= this.limits.appendRetriesMax) {
          throw new AppendConflictError(`gave up after ${attempt + 1} attempts: other writers kept appending to the same accounts`, { cause: error });
        }
      }
    }
  }
}
