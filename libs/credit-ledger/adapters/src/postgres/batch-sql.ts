/**
 * The one write of a decided batch: its events, the projections they change, its outbox row, the allowance parts
 * and the consumer offsets, in ONE transaction. The stream position is the primary key (account_id, version), so
 * a batch decided on a stale state collides there and rolls back whole (`isStreamCollision`).
 */
import type { DataSource, QueryRunner } from 'typeorm';
import type { CreditAccountState } from '@access/credit-ledger-domain';
import { OffsetFencedError, type AllowanceRecord, type DecidedBatch, type OffsetAdvance, type StoredEvent } from '@access/credit-ledger-application';
import { writeProjections } from './projections-sql';

export interface BatchWrite<Ref> {
  readonly batch: DecidedBatch<Ref>;
  readonly before: ReadonlyMap<string, CreditAccountState>;
  /** The batch's outbox row: `count` messages, one per line. */
  readonly outbox: { readonly lines: string; readonly count: number };
  readonly offsets: readonly OffsetAdvance[];
  readonly allowances: readonly AllowanceRecord[];
}

type PgError = { code?: string; constraint?: string };

/** True when `error` is another writer's append at a stream position this batch also took. */
export function isStreamCollision(error: unknown): boolean {
  const pg = error as PgError | undefined;
  return pg?.code === '23505' && String(pg.constraint ?? '').startsWith('ledger_events');
}

/** Writes a batch in one transaction; returns whether it wrote an outbox row. Nothing to write: no transaction. */
export async function writeBatch<Ref>(db: DataSource, write: BatchWrite<Ref>): Promise<boolean> {
  const { batch, before, outbox, offsets, allowances } = write;
  if (batch.events.length === 0 && outbox.count === 0 && offsets.length === 0 && allowances.length === 0) return false;
  return inTransaction(db, async (q) => {
    if (batch.events.length > 0) {
      await insertEvents(q, batch.events);
      await writeProjections(q, batch, before);
    }
    if (outbox.count > 0) await q.query('INSERT INTO outbox (messages, message_count) VALUES ($1, $2)', [outbox.lines, outbox.count]);
    if (allowances.length > 0) await insertAllowances(q, allowances);
    for (const offset of offsets) await advanceOffset(q, offset);
    return outbox.count > 0;
  });
}

/** Runs `fn` in a transaction on a connection of its own, rolled back when `fn` throws. */
export async function inTransaction<T>(db: DataSource, fn: (q: QueryRunner) => Promise<T>): Promise<T> {
  const q = db.createQueryRunner();
  await q.connect();
  try {
    await q.startTransaction();
    const result = await fn(q);
    await q.commitTransaction();
    return result;
  } catch (error) {
    if (q.isTransactionActive) await q.rollbackTransaction().catch(() => undefined);
    throw error;
  } finally {
    await q.release();
  }
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

async function insertAllowances(q: QueryRunner, allowances: readonly AllowanceRecord[]): Promise<void> {
  await q.query(
    `INSERT INTO admission_allowance (admission_id, account_id, allowance_credits, decided_at)
       SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::timestamptz[]) ON CONFLICT (admission_id) DO NOTHING`,
    [allowances.map((a) => a.admissionId), allowances.map((a) => a.accountId), allowances.map((a) => a.allowanceCredits), allowances.map((a) => a.decidedAt)],
  );
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
