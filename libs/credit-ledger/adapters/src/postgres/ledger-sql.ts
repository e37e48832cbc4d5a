/**
 * Every SQL statement on the ledger's tables, behind one class: the store, the consumer, the jobs, the outbox
 * publisher, the SRE operations and the CLI's reconcile ask it, and nothing else holds the connection. The
 * writes of a batch are in batch-sql.ts, the projection tables in projections-sql.ts; the schema is in
 * ../migrations.ts.
 */
import type { DataSource, QueryRunner } from 'typeorm';
import type { CreditAccountState } from '@access/credit-ledger-domain';
import { evolve, initialState } from '@access/credit-ledger-domain';
import type { StoredEvent } from '@access/credit-ledger-application';
import { fromRow } from '../event-codec';
import { inTransaction, writeBatch, type BatchWrite } from './batch-sql';
import { insertProjections, type ProjectedAccount } from './projections-sql';
import { eventColumnsSql, occurredMsSql, toStoredEvent, type EventRow } from './rows';

/** What `access ledger verify` compares with the recomputed accounts. */
export interface ProjectionRows {
  readonly balances: readonly {
    account_id: string; balance_credits: string; held_credits: string; available_credits: string; pending_credits: string;
    overshoot_credits: string; unallocated_credits: string; version: number; as_of_ms: number | null;
  }[];
  readonly grants: readonly { account_id: string; grant_id: string; remaining_credits: string; held_credits: string }[];
  readonly reservations: readonly { account_id: string; admission_id: string; credits: string }[];
}

/** Which events `access ledger replay` republishes. */
export interface EventFilter {
  readonly since?: string;
  readonly afterVersion?: number;
  readonly accountId?: string;
}

/** The rows `access reconcile` compares with ClickHouse. */
export interface ReconcileRows {
  readonly events: readonly { event_id: string; account_id: string; type: string; admission_id: string | null; actual: string | null }[];
  readonly allowances: readonly { admission_id: string; allowance_credits: string }[];
  readonly balances: readonly { account_id: string; balance_credits: string }[];
}

/** A session-level advisory lock held on a connection of its own until `release`. */
export interface HeldLock {
  release(): Promise<void>;
}

const reconcileColumns = `event_id::text, account_id, type, data->>'admissionId' AS admission_id, data->>'actualCredits' AS actual,
  data->>'adjustmentId' AS adjustment_id, data->>'credits' AS credits`;

/** A ledger event as `access reconcile` reads it. */
export interface ReconcileEventRow {
  event_id: string;
  account_id: string;
  type: string;
  admission_id: string | null;
  actual: string | null;
  adjustment_id: string | null;
  credits: string | null;
}

export interface ReconcileBalanceRow {
  account_id: string;
  version: number;
  balance_credits: string;
  held_credits: string;
  available_credits: string;
}

export class LedgerSql {
  constructor(private readonly db: DataSource) {}

  /** The server answers (readiness). */
  async ping(): Promise<boolean> {
    return ((await this.db.query('SELECT 1 AS ok')) as unknown[]).length === 1;
  }

  // The event log -----------------------------------------------------------------------------------

  /** Folds the streams of `accountIds`. Versions must run 1, 2, 3… without gaps. */
  loadStates(accountIds: readonly string[]): Promise<Map<string, CreditAccountState>> {
    return loadStates(this.db, accountIds);
  }

  /** An account's events after `afterVersion`, in order, at most `limit`. */
  async events(accountId: string, afterVersion: number, limit: number): Promise<StoredEvent[]> {
    const rows: EventRow[] = await this.db.query(
      `SELECT ${eventColumnsSql} FROM ledger_events WHERE account_id = $1 AND version > $2 ORDER BY version LIMIT $3`,
      [accountId, afterVersion, limit],
    );
    return rows.map(toStoredEvent);
  }

  /** Writes a decided batch in one transaction (see batch-sql.ts); returns whether it wrote an outbox row. */
  writeBatch<Ref>(write: BatchWrite<Ref>): Promise<boolean> {
    return writeBatch(this.db, write);
  }

  // Consumers ---------------------------------------------------------------------------------------

  /** The stored next offset of each partition of `topic` for `groupId`. */
  async storedOffsets(groupId: string, topic: string): Promise<Map<number, string>> {
    const rows: { partition: number; next_offset: string }[] = await this.db.query(
      'SELECT partition, next_offset::text AS next_offset FROM consumer_offsets WHERE group_id = $1 AND topic = $2',
      [groupId, topic],
    );
    return new Map(rows.map((r) => [Number(r.partition), r.next_offset]));
  }

  /** The allowance parts recorded for `admissionIds`. */
  async allowancesOf(admissionIds: readonly string[]): Promise<Map<string, number>> {
    const rows: { admission_id: string; allowance_credits: string }[] = await this.db.query(
      'SELECT admission_id, allowance_credits::text FROM admission_allowance WHERE admission_id = ANY($1::text[])',
      [admissionIds],
    );
    return new Map(rows.map((r) => [r.admission_id, Number(r.allowance_credits)]));
  }

  // Jobs --------------------------------------------------------------------------------------------

  async accountsWithExpiryDue(now: string, limit: number): Promise<string[]> {
    const rows: { account_id: string }[] = await this.db.query(
      `SELECT account_id FROM (
         (SELECT account_id FROM open_reservations WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2)
         UNION
         (SELECT account_id FROM account_grants WHERE expires_at <= $1 AND remaining_credits > held_credits ORDER BY expires_at LIMIT $2)
       ) due LIMIT $2`,
      [now, limit],
    );
    return rows.map((r) => r.account_id);
  }

  async pruneAllowances(before: string, limit: number): Promise<number> {
    const rows: unknown[] = await this.db.query(
      `DELETE FROM admission_allowance WHERE admission_id IN (
         SELECT admission_id FROM admission_allowance WHERE decided_at < $1 LIMIT $2) RETURNING 1`,
      [before, limit],
    );
    return rows.length;
  }

  async accountsMissingPlanGrant(plan: string, grantId: string, limit: number): Promise<string[]> {
    const rows: { account_id: string }[] = await this.db.query(
      'SELECT account_id FROM account_balances WHERE plan = $1 AND plan_grant_id IS DISTINCT FROM $2 LIMIT $3',
      [plan, grantId, limit],
    );
    return rows.map((r) => r.account_id);
  }

  // The outbox --------------------------------------------------------------------------------------

  /** Up to `limit` outbox rows (each a committed batch), in id order. */
  outboxRows(limit: number): Promise<{ id: string; messages: string }[]> {
    // ORDER BY the column, not the text alias of the same name (which Postgres would sort as text: '10' before '9').
    return this.db.query('SELECT id::text AS id, messages FROM outbox ORDER BY outbox.id LIMIT $1', [limit]);
  }

  /** Messages written to the outbox and not yet published (the outbox depth an alert watches). */
  async outboxDepth(): Promise<number> {
    const rows: { n: string | null }[] = await this.db.query('SELECT sum(message_count) AS n FROM outbox');
    return Number(rows[0]?.n ?? 0);
  }

  async deleteOutboxRows(ids: readonly string[]): Promise<void> {
    await this.db.query('DELETE FROM outbox WHERE id = ANY($1::bigint[])', [ids]);
  }

  /**
   * The publisher's lock, or null when another process holds it. The key is per schema, so test schemas (and
   * their publishers) do not exclude each other.
   */
  async tryOutboxLock(): Promise<HeldLock | null> {
    const runner = this.db.createQueryRunner();
    await runner.connect();
    const rows: { locked: boolean }[] = await runner.query("SELECT pg_try_advisory_lock(hashtext(current_schema() || ':credit-ledger-outbox')) AS locked");
    if (rows[0]?.locked !== true) {
      await runner.release();
      return null;
    }
    return {
      release: async () => {
        await runner.query("SELECT pg_advisory_unlock(hashtext(current_schema() || ':credit-ledger-outbox'))").catch(() => undefined);
        await runner.release().catch(() => undefined);
      },
    };
  }

  // SRE operations ----------------------------------------------------------------------------------

  /** Every account that has events or a projection, in order. */
  async allAccountIds(): Promise<string[]> {
    const rows: { account_id: string }[] = await this.db.query(`SELECT account_id FROM account_balances UNION SELECT DISTINCT account_id FROM ledger_events ORDER BY account_id`);
    return rows.map((r) => r.account_id);
  }

  /** The streams of `accountIds`, each in version order (gaps are kept, for `verify` to report). */
  streamsOf(accountIds: readonly string[]): Promise<Map<string, StoredEvent[]>> {
    return streamsOf(this.db, accountIds);
  }

  async projectionsOf(accountIds: readonly string[]): Promise<ProjectionRows> {
    const balances: ProjectionRows['balances'] = await this.db.query(
      `SELECT account_id, balance_credits, held_credits, available_credits, pending_credits, overshoot_credits, unallocated_credits, version,
              round(extract(epoch FROM as_of) * 1000)::float8 AS as_of_ms
         FROM account_balances WHERE account_id = ANY($1::text[])`,
      [accountIds],
    );
    const grants: ProjectionRows['grants'] = await this.db.query(
      'SELECT account_id, grant_id, remaining_credits, held_credits FROM account_grants WHERE account_id = ANY($1::text[])',
      [accountIds],
    );
    const reservations: ProjectionRows['reservations'] = await this.db.query(
      'SELECT account_id, admission_id, credits FROM open_reservations WHERE account_id = ANY($1::text[])',
      [accountIds],
    );
    return { balances, grants, reservations };
  }

  /**
   * Replaces the projections of `accountIds` with `recompute(their streams)`, in one transaction that first locks
   * their balance rows: an append to one of them waits and then writes its newer state.
   */
  async rebuildProjections(accountIds: readonly string[], recompute: (streams: Map<string, StoredEvent[]>) => readonly ProjectedAccount[]): Promise<void> {
    await inTransaction(this.db, async (q) => {
      await q.query('SELECT account_id FROM account_balances WHERE account_id = ANY($1::text[]) ORDER BY account_id FOR UPDATE', [accountIds]);
      const accounts = recompute(await streamsOf(q, accountIds));
      for (const table of ['account_balances', 'account_grants', 'open_reservations']) {
        await q.query(`DELETE FROM ${table} WHERE account_id = ANY($1::text[])`, [accountIds]);
      }
      await insertProjections(q, accounts);
    });
  }

  /** How many events `filter` selects (account lifecycle events, which are not published, excluded). */
  async countPublishable(filter: EventFilter): Promise<number> {
    const { where, params } = publishableWhere(filter);
    const [{ total } = { total: '0' }]: { total: string }[] = await this.db.query(`SELECT count(*)::text AS total FROM ledger_events WHERE ${where}`, params);
    return Number(total);
  }

  /** The next page of `filter`'s events after global position `after`, in log order. */
  async publishablePage(filter: EventFilter, after: string, pageSize: number): Promise<{ events: StoredEvent[]; last: string | null }> {
    const { where, params } = publishableWhere(filter);
    const rows: (EventRow & { position: string })[] = await this.db.query(
      `SELECT ${eventColumnsSql}, position::text AS position
         FROM ledger_events WHERE ${where} AND position > $${params.length + 1} ORDER BY ledger_events.position LIMIT $${params.length + 2}`,
      [...params, after, pageSize],
    );
    return { events: rows.map(toStoredEvent), last: rows.at(-1)?.position ?? null };
  }

  /** The balance projection `access reconcile` compares (one account, or all). */
  reconcileBalances(accountId: string | undefined): Promise<ReconcileBalanceRow[]> {
    return this.db.query(
      'SELECT account_id, version, balance_credits::text, held_credits::text, available_credits::text FROM account_balances WHERE ($1::text IS NULL OR account_id = $1)',
      [accountId ?? null],
    );
  }

  /** The ledger events of a time range that reach Kafka and ClickHouse (lifecycle events excluded). */
  reconcileEvents(since: Date, until: Date, accountId: string | undefined): Promise<ReconcileEventRow[]> {
    return this.db.query(
      `SELECT ${reconcileColumns}
         FROM ledger_events
        WHERE occurred_at >= $1 AND occurred_at < $2 AND ($3::text IS NULL OR account_id = $3)
          AND type NOT IN ('account_opened', 'plan_changed')`,
      [since, until, accountId ?? null],
    );
  }

  /**
   * Settlements and allowance refunds (adjustment id `refundPrefix` + admissionId) of the given admissions recorded
   * in [from, to): a settlement follows its completion, so it may come after the range the completions are in.
   */
  laterSettlements(from: Date, to: Date, admissionIds: readonly string[], refundPrefix: string): Promise<ReconcileEventRow[]> {
    return this.db.query(
      `SELECT ${reconcileColumns}
         FROM ledger_events
        WHERE occurred_at >= $1 AND occurred_at < $2 AND type IN ('reservation_settled', 'credits_adjusted')
          AND (data->>'admissionId' = ANY($3::text[]) OR data->>'adjustmentId' = ANY($4::text[]))`,
      [from, to, admissionIds, admissionIds.map((id) => refundPrefix + id)],
    );
  }

}

/** Folds the streams of `accountIds` from Postgres. Versions must run 1, 2, 3… without gaps. */
async function loadStates(db: DataSource | QueryRunner, accountIds: readonly string[]): Promise<Map<string, CreditAccountState>> {
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

async function streamsOf(db: DataSource | QueryRunner, accountIds: readonly string[]): Promise<Map<string, StoredEvent[]>> {
  const rows: EventRow[] = await db.query(
    `SELECT ${eventColumnsSql} FROM ledger_events WHERE account_id = ANY($1::text[]) ORDER BY account_id, version`,
    [accountIds],
  );
  const byAccount = new Map<string, StoredEvent[]>();
  for (const row of rows) {
    let list = byAccount.get(row.account_id);
    if (list === undefined) byAccount.set(row.account_id, (list = []));
    list.push(toStoredEvent(row));
  }
  return byAccount;
}

function publishableWhere(filter: EventFilter): { where: string; params: unknown[] } {
  const where: string[] = [];
  const params: unknown[] = [];
  if (filter.since !== undefined) {
    params.push(filter.since);
    where.push(`occurred_at >= $${params.length}`);
  }
  if (filter.afterVersion !== undefined) {
    params.push(filter.afterVersion);
    where.push(`version > $${params.length}`);
  }
  if (filter.accountId !== undefined) {
    params.push(filter.accountId);
    where.push(`account_id = $${params.length}`);
  }
  where.push(`type NOT IN ('account_opened', 'plan_changed')`);
  return { where: where.join(' AND '), params };
}
