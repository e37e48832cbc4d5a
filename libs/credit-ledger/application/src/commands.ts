/**
 * The shapes every writer of the ledger shares: a command on one account, what deciding it produced, and what
 * else a batch writes in the same transaction (consumer offsets, allowance parts, dead letters).
 */
import type { CreditAccountCommand, CreditAccountEvent, CreditAccountState, DecideResult } from '@access/credit-ledger-domain';

/** One event of an account's stream as stored: its position, its id, and what caused it. */
export interface StoredEvent {
  readonly accountId: string;
  readonly version: number;
  readonly id: string;
  readonly event: CreditAccountEvent;
  readonly causationId: string | null;
}

/** A command, or a function that builds it from the account's current state (null: nothing to do). */
export type CommandInput = CreditAccountCommand | ((state: CreditAccountState) => CreditAccountCommand | null);

export interface AccountCommand<Ref = unknown> {
  readonly accountId: string;
  readonly command: CommandInput;
  /** The message or request that caused it; stored with every event it produces. */
  readonly causationId?: string | null;
  /**
   * When the consumed message that caused it was published (its Kafka timestamp, epoch ms). Carried to admission
   * on the balance it changes (header `access-caused-at`) to measure freshness. Commands nobody published (HTTP,
   * jobs) leave it out: their balances carry no cause and are not measured.
   */
  readonly causedAtMs?: number;
  /**
   * The W3C `traceparent` of the span that handled its cause (the ledger consumer's span of the message). The ledger
   * events and the balance it produces are published with it, so the cause's trace continues through them.
   */
  readonly traceparent?: string;
  /** The caller's handle, returned with the outcome. */
  readonly ref?: Ref;
}

export interface CommandOutcome<Ref = unknown> {
  readonly item: AccountCommand<Ref>;
  /** The command decided; null when a command builder decided there was nothing to do. */
  readonly command: CreditAccountCommand | null;
  readonly result: DecideResult | null;
  /** The events this command appended (empty unless accepted). */
  readonly events: readonly StoredEvent[];
  /** The account after this command. */
  readonly state: CreditAccountState;
}

/** Advances a consumer's stored position: only from `expectedNextOffset` (null: no position stored yet). */
export interface OffsetAdvance {
  readonly groupId: string;
  readonly topic: string;
  readonly partition: number;
  readonly expectedNextOffset: string | null;
  readonly nextOffset: string;
}

/** A message the ledger could not apply, published to the dead-letter topic through the outbox. */
export interface DeadLetter {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: string | null;
  readonly value: Buffer | null;
  readonly error: string;
  readonly consumer: string;
  /** The message's headers, recorded so that a redrive republishes them. */
  readonly headers?: Readonly<Record<string, string>>;
}

/** The allowance part of an admitted decision (the credits part is the reservation). */
export interface AllowanceRecord {
  readonly admissionId: string;
  readonly accountId: string;
  readonly allowanceCredits: number;
  readonly decidedAt: string;
}

export interface ExecuteOptions<Ref> {
  /**
   * Runs once the batch holds its accounts, before every attempt decides: reads that must see every earlier
   * batch on these accounts committed (the consumer looks up allowance parts here).
   */
  readonly prepare?: () => Promise<void>;
  readonly offsets?: readonly OffsetAdvance[];
  readonly allowances?: readonly AllowanceRecord[];
  readonly deadLetters?: readonly DeadLetter[];
  /** Dead letters that depend on the outcomes (a conflicting or rejected command); written in the same transaction. */
  readonly deadLettersFor?: (outcomes: readonly CommandOutcome<Ref>[]) => readonly DeadLetter[];
}

export interface ExecuteResult<Ref> {
  readonly outcomes: readonly CommandOutcome<Ref>[];
  readonly appendedEvents: number;
  /** Times the batch was decided again after a concurrent append. */
  readonly retries: number;
}
