/**
 * The ledger's event store in Postgres: loads account streams, decides commands with the pure decider, and
 * appends what they produced together with the projections, the outbox messages, the consumer offsets and the
 * dead letters of the same batch, in ONE transaction. Everything that writes (consumers, HTTP, jobs) goes
 * through `execute`, so they share one append path and one concurrency rule:
 *
 * - Optimistic concurrency: the stream position is the primary key (account_id, version). A writer that decided
 *   on a stale state collides on it, rolls back, reloads those accounts and decides the whole batch again
 *   (at most `appendRetriesMax` times).
 * - Hot accounts stay folded in a bounded cache, and a batch never re-reads what it just wrote.
 * - Offsets are fenced: a batch advances a partition only from the offset it started at, so two consumers
 *   that both believe they own a partition cannot both apply it.
 *
 * Within one process, batches that share an account run one after the other (per-account locks, first come
 * first served), so the consumers, HTTP and the jobs never conflict with each other; batches on disjoint
 * accounts (different Kafka partitions) decide and write concurrently, each in its own transaction. Conflicts
 * come from other processes (a second instance during a rebalance, the CLI).
 */
import type { DataSource, QueryRunner } from 'typeorm';
import type {
  CreditAccountCommand,
  CreditAccountEvent,
  CreditAccountState,
  DecideResult,
  GrantState,
} from '@access/credit-ledger-domain';
import { decide, evolve, evolveAll, initialState, parseInstant, unallocatedCredits } from '@access/credit-ledger-domain';
import { EVENTS, makeEvent, newEventId, SOURCES, deadletterData } from '@access/contracts';
import { AccountCache } from './account-cache';
import { balanceOutboxMessage, fromRow, ledgerOutboxMessage, outboxMessage, type StoredEvent } from './event-codec';
import { defaultStoreLimits, type LedgerStoreLimits } from './limits';
import { formatOutboxLine, type OutboxKind } from './outbox-lines';

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

/** Another process moved a consumer's stored offset: the caller must reload it and start from there. */
export class OffsetFencedError extends Error {
  override readonly name = 'OffsetFencedError';
  readonly retriable = true;
  constructor(readonly topic: string, readonly partition: number) {
    super(`the stored offset of ${topic}[${partition}] was moved by another consumer`);
  }
}

/** Every retry collided with another writer. Retriable: the next attempt starts from fresh states. */
export class AppendConflictError extends Error {
  override readonly name = 'AppendConflictError';
  readonly retriable = true;
}

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

type PgError = { code?: string; constraint?: string };

const isUniqueViolation = (error: unknown): error is PgError => (error as PgError)?.code === '23505';

export class LedgerStore {
  readonly limits: LedgerStoreLimits;
  private readonly cache: AccountCache;
  /** Per account, the last batch that holds or waits for it: a new batch waits for those of its accounts. */
  private readonly tails = new Map<string, Promise<void>>();

  constructor(
    readonly db: DataSource,
    private readonly options: LedgerStoreOptions = {},
  ) {
    this.limits = options.limits ?? defaultStoreLimits;
    this.cache = new AccountCache(this.limits.cachedAccountsMax);
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
      const loaded = await loadStates(this.db, missing);
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

  /** An account's events after `afterVersion`, in order, at most `limit`. */
  async events(accountId: string, afterVersion: number, limit: number): Promise<StoredEvent[]> {
    const rows: EventRow[] = await this.db.query(
      `SELECT account_id, version, event_id, type, ${occurredMsSql} AS occurred_ms, data, causation_id
         FROM ledger_events WHERE account_id = $1 AND version > $2 ORDER BY version LIMIT $3`,
      [accountId, afterVersion, Math.min(limit, this.limits.eventsPageMax)],
    );
    return rows.map(toStoredEvent);
  }

  /** The stored next offset of each partition of `topic` for `groupId`. */
  async storedOffsets(groupId: string, topic: string): Promise<Map<number, string>> {
    const rows: { partition: number; next_offset: string }[] = await this.db.query(
      'SELECT partition, next_offset::text AS next_offset FROM consumer_offsets WHERE group_id = $1 AND topic = $2',
      [groupId, topic],
    );
    return new Map(rows.map((r) => [Number(r.partition), r.next_offset]));
  }

  // -------------------------------------------------------------------------------------------------
  // Writing

  /**
   * Decides `items` in order against the accounts' committed states and writes everything they produced,
   * with the options' offsets, allowances and dead letters, in one transaction. Serialized per process.
   */
  execute<Ref = unknown>(items: readonly AccountCommand<Ref>[], options: ExecuteOptions<Ref> = {}): Promise<ExecuteResult<Ref>> {
    if (items.length > this.limits.batchCommandsMax) {
      return Promise.reject(new RangeError(`at most ${this.limits.batchCommandsMax} commands per batch, got ${items.length}`));
    }
    const accountIds = [...new Set(items.map((i) => i.accountId))];
    return this.holding(accountIds, () => this.executeNow(items, accountIds, options));
  }

  /**
   * Runs `fn` once every earlier batch sharing an account with `accountIds` has finished. Registration is
   * synchronous and each batch waits only for earlier ones, so there is no deadlock and no overtaking.
   */
  private async holding<T>(accountIds: readonly string[], fn: () => Promise<T>): Promise<T> {
    const earlier = new Set<Promise<void>>();
    for (const accountId of accountIds) {
      const tail = this.tails.get(accountId);
      if (tail !== undefined) earlier.add(tail);
    }
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    for (const accountId of accountIds) this.tails.set(accountId, mine);
    try {
      await Promise.all(earlier);
      return await fn();
    } finally {
      release();
      for (const accountId of accountIds) if (this.tails.get(accountId) === mine) this.tails.delete(accountId);
    }
  }

  private async executeNow<Ref>(items: readonly AccountCommand<Ref>[], accountIds: readonly string[], options: ExecuteOptions<Ref>): Promise<ExecuteResult<Ref>> {
    for (let attempt = 0; ; attempt++) {
      const startedMs = performance.now();
      await options.prepare?.();
      const before = await this.states(accountIds);
      const batch = decideBatch(items, before);
      const deadLetters = [...(options.deadLetters ?? []), ...(options.deadLettersFor?.(batch.outcomes) ?? [])];
      try {
        const wroteOutbox = await this.write(batch, before, options, deadLetters);
        for (const [accountId, state] of batch.after) this.cache.set(accountId, state);
        if (wroteOutbox) this.options.onOutbox?.();
        this.options.observer?.committed?.(items.length, batch.events.length, performance.now() - startedMs);
        return { outcomes: batch.outcomes, appendedEvents: batch.events.length, retries: attempt };
      } catch (error) {
        // Whatever failed, the cache may now be behind Postgres for these accounts (another writer won).
        for (const accountId of batch.after.keys()) this.cache.evict(accountId);
        if (!isUniqueViolation(error) || !String(error.constraint ?? '').startsWith('ledger_events')) throw error;
        this.options.observer?.conflict?.(batch.after.size);
        if (attempt >= this.limits.appendRetriesMax) {
          throw new AppendConflictError(`gave up after ${attempt + 1} attempts: other writers kept appending to the same accounts`, { cause: error });
        }
      }
    }
  }

  private async write<Ref>(
    batch: DecidedBatch<Ref>,
    before: ReadonlyMap<string, CreditAccountState>,
    options: ExecuteOptions<Ref>,
    deadLetters: readonly DeadLetter[],
  ): Promise<boolean> {
    const outbox = outboxRows(batch, deadLetters, this.options.source ?? SOURCES.creditLedger);
    const offsets = options.offsets ?? [];
    const allowances = options.allowances ?? [];
    if (batch.events.length === 0 && outbox.count === 0 && offsets.length === 0 && allowances.length === 0) return false;

    const q = this.db.createQueryRunner();
    await q.connect();
    try {
      await q.startTransaction();
      if (batch.events.length > 0) {
        await insertEvents(q, batch.events);
        await writeProjections(q, batch, before);
      }
      if (outbox.count > 0) {
        await q.query('INSERT INTO outbox (messages, message_count) VALUES ($1, $2)', [outbox.lines, outbox.count]);
      }
      if (allowances.length > 0) {
        await q.query(
          `INSERT INTO admission_allowance (admission_id, account_id, allowance_credits, decided_at)
             SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::timestamptz[]) ON CONFLICT (admission_id) DO NOTHING`,
          [allowances.map((a) => a.admissionId), allowances.map((a) => a.accountId), allowances.map((a) => a.allowanceCredits), allowances.map((a) => a.decidedAt)],
        );
      }
      for (const offset of offsets) await advanceOffset(q, offset);
      await q.commitTransaction();
      return outbox.count > 0;
    } catch (error) {
      if (q.isTransactionActive) await q.rollbackTransaction().catch(() => undefined);
      throw error;
    } finally {
      await q.release();
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Deciding a batch (pure apart from event ids)

type DecidedBatch<Ref> = {
  readonly outcomes: CommandOutcome<Ref>[];
  readonly events: StoredEvent[];
  /** Final state of every account in the batch (changed or not). */
  readonly after: Map<string, CreditAccountState>;
  /**
   * Per account that appended events, the earliest `causedAtMs` of the commands that appended them: the oldest
   * cause its new balance reflects. Commands that changed nothing (duplicates, rejections) do not count.
   */
  readonly causedAtMs: Map<string, number>;
};

function decideBatch<Ref>(items: readonly AccountCommand<Ref>[], before: ReadonlyMap<string, CreditAccountState>): DecidedBatch<Ref> {
  const after = new Map(before);
  const outcomes: CommandOutcome<Ref>[] = [];
  const events: StoredEvent[] = [];
  const causedAtMs = new Map<string, number>();
  for (const item of items) {
    let state = after.get(item.accountId) ?? initialState();
    const command = typeof item.command === 'function' ? item.command(state) : item.command;
    if (command === null) {
      outcomes.push({ item, command, result: null, events: [], state });
      continue;
    }
    const result = decide(command, state);
    const appended: StoredEvent[] = [];
    const first = state.version + 1;
    result.events.forEach((event, i) => {
      appended.push({ accountId: item.accountId, version: first + i, id: newEventId(), event, causationId: item.causationId ?? null });
    });
    const last = result.events.at(-1);
    if (result.kind === 'accepted' && last !== undefined) {
      // The decider's own state after the events saves folding them twice. It equals the fold whenever its clock
      // stopped at the last event; `expireDue` moves the clock past its last expiry, so there we fold.
      state = result.state.clockMs === parseInstant(last.occurredAt) ? result.state : evolveAll(state, result.events);
    }
    after.set(item.accountId, state);
    events.push(...appended);
    outcomes.push({ item, command, result, events: appended, state });
    if (appended.length > 0 && item.causedAtMs !== undefined) {
      const earliest = causedAtMs.get(item.accountId);
      if (earliest === undefined || item.causedAtMs < earliest) causedAtMs.set(item.accountId, item.causedAtMs);
    }
  }
  return { outcomes, events, after, causedAtMs };
}

// ---------------------------------------------------------------------------------------------------
// SQL

type EventRow = {
  account_id: string;
  version: number;
  event_id: string;
  type: string;
  occurred_ms: number;
  data: unknown;
  causation_id: string | null;
};

const occurredMsSql = 'round(extract(epoch FROM occurred_at) * 1000)::float8';

function toStoredEvent(row: EventRow): StoredEvent {
  return {
    accountId: row.account_id,
    version: Number(row.version),
    id: row.event_id,
    event: fromRow(row.type, new Date(Number(row.occurred_ms)).toISOString(), row.data),
    causationId: row.causation_id,
  };
}

/** Folds the streams of `accountIds` from Postgres. Versions must run 1, 2, 3… without gaps. */
export async function loadStates(db: DataSource | QueryRunner, accountIds: readonly string[]): Promise<Map<string, CreditAccountState>> {
  const rows: EventRow[] = await db.query(
    `SELECT account_id, version, type, ${occurredMsSql} AS occurred_ms, data
       FROM ledger_events WHERE account_id = ANY($1::text[]) ORDER BY account_id, version`,
    [accountIds],
  );
  const states = new Map<string, CreditAccountState>();
  for (const row of rows) {
    const state = states.get(row.account_id) ?? initialState();
    // The fold trusts the stream; a gap would mean a lost event, which must stop the service, not be folded over.
    if (Number(row.version) !== state.version + 1) {
      throw new Error(`ledger_events of ${row.account_id} jumps from version ${state.version} to ${row.version}`);
    }
    states.set(row.account_id, evolve(state, fromRow(row.type, new Date(Number(row.occurred_ms)).toISOString(), row.data)));
  }
  return states;
}

async function insertEvents(q: QueryRunner, events: readonly StoredEvent[]): Promise<void> {
  // One JSON document instead of seven arrays: the client serializes it natively (pg escapes array elements one
  // by one) and the server reads it in one pass; `data` arrives as a nested object, stored as jsonb.
  const rows = events.map((e) => ({ a: e.accountId, v: e.version, i: e.id, t: e.event.type, o: e.event.occurredAt, d: e.event.data, c: e.causationId }));
  await q.query(
    `INSERT INTO ledger_events (account_id, version, event_id, type, occurred_at, data, causation_id)
       SELECT a, v, i, t, o, d, c FROM json_to_recordset($1::json) AS x(a text, v int, i uuid, t text, o timestamptz, d jsonb, c text)`,
    [JSON.stringify(rows)],
  );
}

/** The projection rows of the accounts that changed, diffed against their state before the batch. */
async function writeProjections<Ref>(q: QueryRunner, batch: DecidedBatch<Ref>, before: ReadonlyMap<string, CreditAccountState>): Promise<void> {
  const changed = [...batch.after].filter(([accountId, state]) => state.version !== (before.get(accountId)?.version ?? 0));
  const planGrants = new Map<string, string>();
  const touchedReservations = new Map<string, Set<string>>();
  const touch = (map: Map<string, Set<string>>, accountId: string, id: string) => {
    let set = map.get(accountId);
    if (set === undefined) map.set(accountId, (set = new Set()));
    set.add(id);
  };
  for (const { accountId, event } of batch.events) {
    const admissionId = admissionOf(event);
    if (admissionId !== null) touch(touchedReservations, accountId, admissionId);
    if (event.type === 'credits_granted' && event.data.planPeriod !== null) planGrants.set(accountId, event.data.grantId);
  }

  const b = { ids: [] as string[], plan: [] as (string | null)[], balance: [] as number[], held: [] as number[], available: [] as number[], pending: [] as number[], unallocated: [] as number[], overshoot: [] as number[], version: [] as number[], asOf: [] as (string | null)[], planGrant: [] as (string | null)[] };
  for (const [accountId, s] of changed) {
    b.ids.push(accountId);
    b.plan.push(s.plan);
    b.balance.push(s.balanceCredits);
    b.held.push(s.heldCredits);
    b.available.push(s.balanceCredits - s.heldCredits);
    b.pending.push(s.pendingCredits);
    b.unallocated.push(unallocatedCredits(s));
    b.overshoot.push(s.totals.overshootCredits);
    b.version.push(s.version);
    b.asOf.push(s.clockMs === null ? null : new Date(s.clockMs).toISOString());
    b.planGrant.push(planGrants.get(accountId) ?? null);
  }
  await q.query(
    `INSERT INTO account_balances AS t (account_id, plan, balance_credits, held_credits, available_credits, pending_credits,
                                   unallocated_credits, overshoot_credits, version, as_of, plan_grant_id, updated_at)
       SELECT a, p, bal, h, av, pe, u, o, v, t, g, now()
         FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[], $9::int[], $10::timestamptz[], $11::text[])
           AS x(a, p, bal, h, av, pe, u, o, v, t, g)
     ON CONFLICT (account_id) DO UPDATE SET plan = EXCLUDED.plan, balance_credits = EXCLUDED.balance_credits,
       held_credits = EXCLUDED.held_credits, available_credits = EXCLUDED.available_credits, pending_credits = EXCLUDED.pending_credits,
       unallocated_credits = EXCLUDED.unallocated_credits, overshoot_credits = EXCLUDED.overshoot_credits, version = EXCLUDED.version,
       as_of = EXCLUDED.as_of, plan_grant_id = COALESCE(EXCLUDED.plan_grant_id, t.plan_grant_id), updated_at = now()`,
    [b.ids, b.plan, b.balance, b.held, b.available, b.pending, b.unallocated, b.overshoot, b.version, b.asOf, b.planGrant],
  );

  const upserts: GrantState[] = [];
  const upsertAccounts: string[] = [];
  const deletes: [string, string][] = [];
  // Grants are few per account (liveGrantsMax) and `evolve` replaces exactly the grant objects an event
  // changes, so comparing by identity finds every changed, new and retired grant, including the holds a
  // void or an expiry released.
  for (const [accountId] of changed) {
    const was = before.get(accountId)?.grants ?? new Map<string, GrantState>();
    const now = batch.after.get(accountId)?.grants ?? new Map<string, GrantState>();
    for (const [grantId, grant] of now) {
      if (grant !== was.get(grantId)) {
        upserts.push(grant);
        upsertAccounts.push(accountId);
      }
    }
    for (const grantId of was.keys()) if (!now.has(grantId)) deletes.push([accountId, grantId]);
  }
  if (upserts.length > 0) {
    await q.query(
      `INSERT INTO account_grants (account_id, grant_id, source, priority, credits, remaining_credits, held_credits, effective_at, expires_at)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::bigint[], $6::bigint[], $7::bigint[], $8::timestamptz[], $9::timestamptz[])
       ON CONFLICT (account_id, grant_id) DO UPDATE SET remaining_credits = EXCLUDED.remaining_credits, held_credits = EXCLUDED.held_credits`,
      [
        upsertAccounts,
        upserts.map((g) => g.grantId),
        upserts.map((g) => g.source),
        upserts.map((g) => g.priority),
        upserts.map((g) => g.granted.data.credits),
        upserts.map((g) => g.remainingCredits),
        upserts.map((g) => g.heldCredits),
        upserts.map((g) => g.granted.data.effectiveAt),
        upserts.map((g) => g.granted.data.expiresAt),
      ],
    );
  }
  if (deletes.length > 0) {
    await q.query(
      `DELETE FROM account_grants g USING unnest($1::text[], $2::text[]) AS d(a, id) WHERE g.account_id = d.a AND g.grant_id = d.id`,
      [deletes.map((d) => d[0]), deletes.map((d) => d[1])],
    );
  }

  const opened: { accountId: string; admissionId: string; requestId: string; credits: number; expiresAt: string }[] = [];
  const closed: [string, string][] = [];
  for (const [accountId, admissionIds] of touchedReservations) {
    const was = before.get(accountId)?.reservations;
    const now = batch.after.get(accountId)?.reservations;
    for (const admissionId of admissionIds) {
      const open = now?.get(admissionId);
      const wasOpen = was?.has(admissionId) === true;
      if (open !== undefined && !wasOpen) {
        opened.push({ accountId, admissionId, requestId: open.requestId, credits: open.credits, expiresAt: open.reserved.data.expiresAt });
      } else if (open === undefined && wasOpen) closed.push([accountId, admissionId]);
    }
  }
  if (opened.length > 0) {
    await q.query(
      `INSERT INTO open_reservations (account_id, admission_id, request_id, credits, expires_at)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::timestamptz[]) ON CONFLICT DO NOTHING`,
      [opened.map((o) => o.accountId), opened.map((o) => o.admissionId), opened.map((o) => o.requestId), opened.map((o) => o.credits), opened.map((o) => o.expiresAt)],
    );
  }
  if (closed.length > 0) {
    await q.query(
      `DELETE FROM open_reservations r USING unnest($1::text[], $2::text[]) AS d(a, id) WHERE r.account_id = d.a AND r.admission_id = d.id`,
      [closed.map((c) => c[0]), closed.map((c) => c[1])],
    );
  }
}

function admissionOf(event: CreditAccountEvent): string | null {
  switch (event.type) {
    case 'credits_reserved':
    case 'reservation_settled':
    case 'reservation_voided':
    case 'reservation_expired':
      return event.data.admissionId;
    default:
      return null;
  }
}

async function advanceOffset(q: QueryRunner, offset: OffsetAdvance): Promise<void> {
  const rows: unknown[] = await q.query(
    `INSERT INTO consumer_offsets AS c (group_id, topic, partition, next_offset) VALUES ($1, $2, $3, $4)
     ON CONFLICT (group_id, topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset, updated_at = now()
       WHERE c.next_offset = $5::bigint
     RETURNING next_offset`,
    [offset.groupId, offset.topic, offset.partition, offset.nextOffset, offset.expectedNextOffset],
  );
  if (rows.length === 0) throw new OffsetFencedError(offset.topic, offset.partition);
}

/**
 * The outbox row of a batch: its ledger events in order, then one balance per changed account (with the time of
 * its oldest cause, when one is known), then dead letters, one message per line (format in outbox-lines.ts).
 */
function outboxRows<Ref>(batch: DecidedBatch<Ref>, deadLetters: readonly DeadLetter[], source: string) {
  const lines: string[] = [];
  const push = (kind: OutboxKind, message: { key: string; value: string }, causedAtMs: number | null = null) => {
    lines.push(formatOutboxLine(kind, message.key, message.value, causedAtMs));
  };
  const changed = new Set<string>();
  for (const stored of batch.events) {
    changed.add(stored.accountId);
    const message = ledgerOutboxMessage(stored);
    if (message !== null) push('ledger', message);
  }
  for (const accountId of changed) push('balance', balanceOutboxMessage(accountId, batch.after.get(accountId)!), batch.causedAtMs.get(accountId) ?? null);
  const now = new Date().toISOString();
  for (const dl of deadLetters) {
    const event = makeEvent(EVENTS.deadletterRecorded, {
      id: newEventId(),
      source,
      time: now,
      subject: dl.topic,
      data: deadletterData(dl),
    });
    push('deadletter', outboxMessage(event));
  }
  return { lines: lines.join('\n'), count: lines.length };
}
