/**
 * The SRE operations behind `access ledger verify | rebuild | replay`. Each works from the event log alone and
 * reports progress through a callback (the CLI draws the bar).
 */
import type { DataSource, QueryRunner } from 'typeorm';
import type { CreditAccountEvent, CreditAccountState, Mismatch, StreamProblem } from '@access/credit-ledger-domain';
import { evolve, initialState, unallocatedCredits, verifyStream } from '@access/credit-ledger-domain';
import type { EventProducer } from '@access/platform-kafka';
import { CLOUDEVENTS_CONTENT_TYPE } from '@access/contracts';
import { balanceCloudEvent, fromRow, ledgerCloudEvent, outboxMessage, type StoredEvent } from './event-codec';
import { defaultStoreLimits } from './limits';
import { publishInOrder } from './publish';

export type Progress = (done: number, total: number) => void;

export interface AccountReport {
  readonly accountId: string;
  readonly mismatches: readonly Mismatch[];
  readonly problems: readonly StreamProblem[];
}

export interface VerifyReport {
  readonly accounts: number;
  readonly events: number;
  /** Accounts with a mismatch or a stream problem; empty when every balance is proven by its events. */
  readonly failed: readonly AccountReport[];
}

type RawEvent = { account_id: string; version: number; event_id: string; type: string; occurred_ms: number; data: unknown; causation_id: string | null };

const chunkSize = defaultStoreLimits.operationsAccountsPerChunkMax;

/** Every account that has events or a projection, in order (or just `accountId`). */
async function accountIds(db: DataSource | QueryRunner, accountId?: string): Promise<string[]> {
  if (accountId !== undefined) return [accountId];
  const rows: { account_id: string }[] = await db.query(
    `SELECT account_id FROM account_balances UNION SELECT DISTINCT account_id FROM ledger_events ORDER BY account_id`,
  );
  return rows.map((r) => r.account_id);
}

async function eventsOf(db: DataSource | QueryRunner, ids: readonly string[]): Promise<Map<string, StoredEvent[]>> {
  const rows: RawEvent[] = await db.query(
    `SELECT account_id, version, event_id, type, round(extract(epoch FROM occurred_at) * 1000)::float8 AS occurred_ms, data, causation_id
       FROM ledger_events WHERE account_id = ANY($1::text[]) ORDER BY account_id, version`,
    [ids],
  );
  const byAccount = new Map<string, StoredEvent[]>();
  for (const row of rows) {
    let list = byAccount.get(row.account_id);
    if (list === undefined) byAccount.set(row.account_id, (list = []));
    list.push({
      accountId: row.account_id,
      version: Number(row.version),
      id: row.event_id,
      event: fromRow(row.type, new Date(Number(row.occurred_ms)).toISOString(), row.data),
      causationId: row.causation_id,
    });
  }
  return byAccount;
}

/** `access ledger verify`: recompute every account from its events and compare with the projections. */
export async function verifyLedger(db: DataSource, options: { accountId?: string; onProgress?: Progress } = {}): Promise<VerifyReport> {
  const ids = await accountIds(db, options.accountId);
  const failed: AccountReport[] = [];
  let events = 0;
  for (let i = 0; i < ids.length; i += chunkSize) {
    const chunk = ids.slice(i, i + chunkSize);
    const streams = await eventsOf(db, chunk);
    const balances: { account_id: string; balance_credits: string; held_credits: string; available_credits: string; pending_credits: string; overshoot_credits: string; unallocated_credits: string; version: number; as_of_ms: number | null }[] =
      await db.query(
        `SELECT account_id, balance_credits, held_credits, available_credits, pending_credits, overshoot_credits, unallocated_credits, version,
                round(extract(epoch FROM as_of) * 1000)::float8 AS as_of_ms
           FROM account_balances WHERE account_id = ANY($1::text[])`,
        [chunk],
      );
    const grants: { account_id: string; grant_id: string; remaining_credits: string; held_credits: string }[] = await db.query(
      'SELECT account_id, grant_id, remaining_credits, held_credits FROM account_grants WHERE account_id = ANY($1::text[])',
      [chunk],
    );
    const reservations: { account_id: string; admission_id: string; credits: string }[] = await db.query(
      'SELECT account_id, admission_id, credits FROM open_reservations WHERE account_id = ANY($1::text[])',
      [chunk],
    );
    const balanceOf = new Map(balances.map((b) => [b.account_id, b]));
    for (const accountId of chunk) {
      const stream = streams.get(accountId) ?? [];
      events += stream.length;
      const domainEvents = stream.map((s) => s.event);
      const balance = balanceOf.get(accountId);
      const problems: StreamProblem[] = [];
      stream.forEach((s, index) => {
        if (s.version !== index + 1) problems.push({ version: s.version, type: s.event.type, message: `version ${s.version} at position ${index + 1}` });
      });
      if (balance === undefined) {
        failed.push({ accountId, mismatches: [{ field: 'account_balances', projected: null, recomputed: stream.length }], problems });
        continue;
      }
      const report = verifyStream(domainEvents, {
        balanceCredits: Number(balance.balance_credits),
        heldCredits: Number(balance.held_credits),
        availableCredits: Number(balance.available_credits),
        pendingCredits: Number(balance.pending_credits),
        version: Number(balance.version),
        asOf: balance.as_of_ms === null ? null : new Date(Number(balance.as_of_ms)).toISOString(),
        grants: grants
          .filter((g) => g.account_id === accountId)
          .map((g) => ({ grantId: g.grant_id, remainingCredits: Number(g.remaining_credits), heldCredits: Number(g.held_credits) })),
      });
      const mismatches: Mismatch[] = [...report.mismatches];
      // Open reservations and overshoot are not in verifyStream's projection: recomputed here, independently
      // of `evolve`, from the events' own fields.
      const open = openReservationsOf(domainEvents);
      const projected = new Map(reservations.filter((r) => r.account_id === accountId).map((r) => [r.admission_id, Number(r.credits)]));
      for (const [admissionId, credits] of open) {
        if (projected.get(admissionId) !== credits) mismatches.push({ field: `open_reservations.${admissionId}`, projected: projected.get(admissionId) ?? null, recomputed: credits });
      }
      for (const [admissionId, credits] of projected) {
        if (!open.has(admissionId)) mismatches.push({ field: `open_reservations.${admissionId}`, projected: credits, recomputed: null });
      }
      const overshoot = domainEvents.reduce((sum, e) => (e.type === 'reservation_settled' ? sum + e.data.overshootCredits : sum), 0);
      if (Number(balance.overshoot_credits) !== overshoot) mismatches.push({ field: 'overshootCredits', projected: Number(balance.overshoot_credits), recomputed: overshoot });
      problems.push(...report.problems);
      if (mismatches.length > 0 || problems.length > 0) failed.push({ accountId, mismatches, problems });
    }
    options.onProgress?.(Math.min(i + chunkSize, ids.length), ids.length);
  }
  return { accounts: ids.length, events, failed };
}

function openReservationsOf(events: readonly CreditAccountEvent[]): Map<string, number> {
  const open = new Map<string, number>();
  for (const e of events) {
    if (e.type === 'credits_reserved') open.set(e.data.admissionId, e.data.credits);
    else if (e.type === 'reservation_settled' || e.type === 'reservation_voided' || e.type === 'reservation_expired') open.delete(e.data.admissionId);
  }
  return open;
}

/**
 * `access ledger rebuild`: recompute every projection from the events. Safe while the ledger runs: each chunk
 * locks its accounts' balance rows first, so an append to one of them waits and then writes its newer state.
 */
export async function rebuildProjections(db: DataSource, options: { onProgress?: Progress } = {}): Promise<{ accounts: number; events: number }> {
  const ids = await accountIds(db);
  let events = 0;
  for (let i = 0; i < ids.length; i += chunkSize) {
    const chunk = ids.slice(i, i + chunkSize);
    const q = db.createQueryRunner();
    await q.connect();
    try {
      await q.startTransaction();
      await q.query('SELECT account_id FROM account_balances WHERE account_id = ANY($1::text[]) ORDER BY account_id FOR UPDATE', [chunk]);
      const streams = await eventsOf(q, chunk);
      const states = new Map<string, { state: CreditAccountState; planGrantId: string | null }>();
      for (const [accountId, stream] of streams) {
        let state = initialState();
        let planGrantId: string | null = null;
        for (const { event } of stream) {
          state = evolve(state, event);
          if (event.type === 'credits_granted' && event.data.planPeriod !== null) planGrantId = event.data.grantId;
        }
        events += stream.length;
        states.set(accountId, { state, planGrantId });
      }
      for (const table of ['account_balances', 'account_grants', 'open_reservations']) {
        await q.query(`DELETE FROM ${table} WHERE account_id = ANY($1::text[])`, [chunk]);
      }
      await insertProjections(q, states);
      await q.commitTransaction();
    } catch (error) {
      if (q.isTransactionActive) await q.rollbackTransaction().catch(() => undefined);
      throw error;
    } finally {
      await q.release();
    }
    options.onProgress?.(Math.min(i + chunkSize, ids.length), ids.length);
  }
  return { accounts: ids.length, events };
}

async function insertProjections(q: QueryRunner, states: ReadonlyMap<string, { state: CreditAccountState; planGrantId: string | null }>): Promise<void> {
  const entries = [...states].filter(([, { state }]) => state.version > 0);
  if (entries.length === 0) return;
  await q.query(
    `INSERT INTO account_balances (account_id, plan, balance_credits, held_credits, available_credits, pending_credits,
                                   unallocated_credits, overshoot_credits, version, as_of, plan_grant_id)
       SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[], $9::int[], $10::timestamptz[], $11::text[])`,
    [
      entries.map(([a]) => a),
      entries.map(([, { state }]) => state.plan),
      entries.map(([, { state }]) => state.balanceCredits),
      entries.map(([, { state }]) => state.heldCredits),
      entries.map(([, { state }]) => state.balanceCredits - state.heldCredits),
      entries.map(([, { state }]) => state.pendingCredits),
      entries.map(([, { state }]) => unallocatedCredits(state)),
      entries.map(([, { state }]) => state.totals.overshootCredits),
      entries.map(([, { state }]) => state.version),
      entries.map(([, { state }]) => (state.clockMs === null ? null : new Date(state.clockMs).toISOString())),
      entries.map(([, { planGrantId }]) => planGrantId),
    ],
  );
  const grants = entries.flatMap(([accountId, { state }]) => [...state.grants.values()].map((g) => ({ accountId, g })));
  if (grants.length > 0) {
    await q.query(
      `INSERT INTO account_grants (account_id, grant_id, source, priority, credits, remaining_credits, held_credits, effective_at, expires_at)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::bigint[], $6::bigint[], $7::bigint[], $8::timestamptz[], $9::timestamptz[])`,
      [
        grants.map((x) => x.accountId),
        grants.map((x) => x.g.grantId),
        grants.map((x) => x.g.source),
        grants.map((x) => x.g.priority),
        grants.map((x) => x.g.granted.data.credits),
        grants.map((x) => x.g.remainingCredits),
        grants.map((x) => x.g.heldCredits),
        grants.map((x) => x.g.granted.data.effectiveAt),
        grants.map((x) => x.g.granted.data.expiresAt),
      ],
    );
  }
  const holds = entries.flatMap(([accountId, { state }]) => [...state.reservations.values()].map((r) => ({ accountId, r })));
  if (holds.length > 0) {
    await q.query(
      `INSERT INTO open_reservations (account_id, admission_id, request_id, credits, expires_at)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::timestamptz[])`,
      [
        holds.map((x) => x.accountId),
        holds.map((x) => x.r.admissionId),
        holds.map((x) => x.r.requestId),
        holds.map((x) => x.r.credits),
        holds.map((x) => x.r.reserved.data.expiresAt),
      ],
    );
  }
}

export interface ReplayOptions {
  /** Events that occurred at or after this instant. */
  readonly since?: string;
  /** Events after this stream position (per account). */
  readonly afterVersion?: number;
  readonly accountId?: string;
  readonly topic: string;
  readonly onProgress?: Progress;
  readonly pageSize?: number;
}

/**
 * `access ledger replay`: republish ledger events to Kafka in their global order (so each account's in its
 * stream order), with their original ids: consumers that saw them already recognise them.
 * Account lifecycle events (opened, plan changed) are not on the contract topic and are skipped.
 */
export async function replayLedger(db: DataSource, producer: EventProducer, options: ReplayOptions): Promise<{ published: number }> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (options.since !== undefined) {
    params.push(options.since);
    where.push(`occurred_at >= $${params.length}`);
  }
  if (options.afterVersion !== undefined) {
    params.push(options.afterVersion);
    where.push(`version > $${params.length}`);
  }
  if (options.accountId !== undefined) {
    params.push(options.accountId);
    where.push(`account_id = $${params.length}`);
  }
  where.push(`type NOT IN ('account_opened', 'plan_changed')`);
  const filter = where.join(' AND ');
  const [{ total } = { total: '0' }]: { total: string }[] = await db.query(`SELECT count(*)::text AS total FROM ledger_events WHERE ${filter}`, params);
  const totalCount = Number(total);
  const pageSize = options.pageSize ?? 5_000;
  let after = '0';
  let published = 0;
  options.onProgress?.(0, totalCount);
  for (;;) {
    const rows: (RawEvent & { position: string })[] = await db.query(
      `SELECT account_id, version, event_id, type, round(extract(epoch FROM occurred_at) * 1000)::float8 AS occurred_ms, data, causation_id, position::text AS position
         FROM ledger_events WHERE ${filter} AND position > $${params.length + 1} ORDER BY position LIMIT $${params.length + 2}`,
      [...params, after, pageSize],
    );
    if (rows.length === 0) break;
    const messages = rows.flatMap((row) => {
      const cloudEvent = ledgerCloudEvent({
        accountId: row.account_id,
        version: Number(row.version),
        id: row.event_id,
        event: fromRow(row.type, new Date(Number(row.occurred_ms)).toISOString(), row.data),
        causationId: row.causation_id,
      });
      if (cloudEvent === null) return [];
      const { key, value } = outboxMessage(cloudEvent);
      return [{ topic: options.topic, key, value, headers: { 'content-type': CLOUDEVENTS_CONTENT_TYPE } }];
    });
    await publishInOrder(producer, messages);
    published += messages.length;
    after = rows[rows.length - 1]!.position;
    options.onProgress?.(published, totalCount);
  }
  return { published };
}

/**
 * `access ledger republish-balances`: every account's (or one account's) balance, recomputed from its events,
 * published again as `ledger.balance_changed` to the compacted balances topic. For a balances topic that lost its
 * messages (deleted, or compacted past a consumer's view): admission rebuilds its view of balances from it. A
 * balance message carries the account's stream version, so a consumer that already has that version or a newer
 * one ignores it, and publishing twice changes nothing.
 */
export async function republishBalances(
  db: DataSource,
  producer: EventProducer,
  options: { topic: string; accountId?: string; onProgress?: Progress },
): Promise<{ published: number }> {
  const ids = await accountIds(db, options.accountId);
  let published = 0;
  options.onProgress?.(0, ids.length);
  for (let i = 0; i < ids.length; i += chunkSize) {
    const chunk = ids.slice(i, i + chunkSize);
    const streams = await eventsOf(db, chunk);
    const messages = chunk.flatMap((accountId) => {
      const stream = streams.get(accountId) ?? [];
      if (stream.length === 0) return [];
      const state = stream.reduce((s, stored) => evolve(s, stored.event), initialState());
      const { key, value } = outboxMessage(balanceCloudEvent(accountId, state));
      return [{ topic: options.topic, key, value, headers: { 'content-type': CLOUDEVENTS_CONTENT_TYPE } }];
    });
    await publishInOrder(producer, messages);
    published += messages.length;
    options.onProgress?.(Math.min(i + chunkSize, ids.length), ids.length);
  }
  return { published };
}
