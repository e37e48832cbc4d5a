/**
 * The ledger's Postgres tables (raw SQL, applied once per schema and recorded by TypeORM):
 *
 * - `ledger_events`: the source of truth. One row per event of an account stream, keyed by
 *   (account_id, version); a unique event_id; a trigger refuses UPDATE, DELETE and TRUNCATE, so the log is
 *   append-only whatever the application does. `position` orders events globally (replay), `causation_id`
 *   names the message or HTTP command that caused the event (a settlement names its completion).
 * - projections, derived from the events and rebuildable at any time (`access ledger rebuild`):
 *   `account_balances`, `account_grants` (grants with credits left or not yet effective) and
 *   `open_reservations`.
 * - `consumer_offsets`: (group, topic, partition) → the next offset to apply, written in the same
 *   transaction as the events those messages produced. The consumer starts from here, not from Kafka's
 *   committed offsets, so no effect is lost or repeated.
 * - `outbox`: messages for Kafka written in the same transaction as the events (one row per batch since
 *   the second migration); one publisher drains it in id order.
 * - `admission_allowance`: the allowance part of admitted decisions, so a completion charges credits only
 *   for the part its allowance did not pay.
 */
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateLedgerTables1733000000000 implements MigrationInterface {
  name = 'CreateLedgerTables1733000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE ledger_events (
        account_id text NOT NULL,
        version integer NOT NULL CHECK (version >= 1),
        event_id uuid NOT NULL,
        type text NOT NULL,
        occurred_at timestamptz NOT NULL,
        data jsonb NOT NULL,
        causation_id text,
        position bigint GENERATED ALWAYS AS IDENTITY,
        recorded_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (account_id, version),
        CONSTRAINT ledger_events_event_id_key UNIQUE (event_id)
      )`);
    await q.query('CREATE INDEX ledger_events_occurred_at ON ledger_events (occurred_at)');
    // The log is evidence: no code path may rewrite it, so the database refuses to.
    await q.query(`
      CREATE FUNCTION ledger_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'ledger_events is append-only: % is not allowed', TG_OP USING ERRCODE = 'restrict_violation';
      END $$`);
    await q.query(`CREATE TRIGGER ledger_events_no_update_or_delete BEFORE UPDATE OR DELETE ON ledger_events
      FOR EACH ROW EXECUTE FUNCTION ledger_events_append_only()`);
    await q.query(`CREATE TRIGGER ledger_events_no_truncate BEFORE TRUNCATE ON ledger_events
      FOR EACH STATEMENT EXECUTE FUNCTION ledger_events_append_only()`);

    await q.query(`
      CREATE TABLE account_balances (
        account_id text PRIMARY KEY,
        plan text,
        balance_credits bigint NOT NULL,
        held_credits bigint NOT NULL,
        available_credits bigint NOT NULL,
        pending_credits bigint NOT NULL,
        unallocated_credits bigint NOT NULL,
        overshoot_credits bigint NOT NULL,
        version integer NOT NULL,
        as_of timestamptz,
        plan_grant_id text,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query('CREATE INDEX account_balances_plan ON account_balances (plan)');
    await q.query(`
      CREATE TABLE account_grants (
        account_id text NOT NULL,
        grant_id text NOT NULL,
        source text NOT NULL,
        priority integer NOT NULL,
        credits bigint NOT NULL,
        remaining_credits bigint NOT NULL,
        held_credits bigint NOT NULL,
        effective_at timestamptz NOT NULL,
        expires_at timestamptz,
        PRIMARY KEY (account_id, grant_id)
      )`);
    await q.query('CREATE INDEX account_grants_expires_at ON account_grants (expires_at) WHERE expires_at IS NOT NULL');
    await q.query(`
      CREATE TABLE open_reservations (
        account_id text NOT NULL,
        admission_id text NOT NULL,
        request_id text NOT NULL,
        credits bigint NOT NULL,
        expires_at timestamptz NOT NULL,
        PRIMARY KEY (account_id, admission_id)
      )`);
    await q.query('CREATE INDEX open_reservations_expires_at ON open_reservations (expires_at)');

    await q.query(`
      CREATE TABLE consumer_offsets (
        group_id text NOT NULL,
        topic text NOT NULL,
        partition integer NOT NULL,
        next_offset bigint NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (group_id, topic, partition)
      )`);
    await q.query(`
      CREATE TABLE outbox (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        kind text NOT NULL CHECK (kind IN ('ledger', 'balance', 'deadletter')),
        message_key text NOT NULL,
        value text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE admission_allowance (
        admission_id text PRIMARY KEY,
        account_id text NOT NULL,
        allowance_credits bigint NOT NULL,
        decided_at timestamptz NOT NULL
      )`);
    await q.query('CREATE INDEX admission_allowance_decided_at ON admission_allowance (decided_at)');
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['admission_allowance', 'outbox', 'consumer_offsets', 'open_reservations', 'account_grants', 'account_balances', 'ledger_events']) {
      await q.query(`DROP TABLE IF EXISTS ${table}`);
    }
    await q.query('DROP FUNCTION IF EXISTS ledger_events_append_only()');
  }
}

/**
 * Faster appends, measured by bench/ledger:
 * - the outbox holds one row per committed batch (its messages, one per line: `kind TAB key TAB value`; values
 *   are JSON, which never contains a raw newline) instead of one row per message: a settlement batch writes and
 *   later deletes one row, not thousands. Stored uncompressed (EXTERNAL): it is short-lived.
 * - `occurred_at` is indexed with BRIN: it grows with insertion order, so a block-range index serves
 *   `replay --since` at almost no cost per append (the btree was a large part of the insert time).
 * - the projections that are updated in place on every batch leave room in their pages (fillfactor), so an
 *   update that changes no indexed column is a HOT update: no index is touched.
 */
export class LedgerOutboxBatches1733000000001 implements MigrationInterface {
  name = 'LedgerOutboxBatches1733000000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE outbox RENAME TO outbox_v1');
    await q.query(`
      CREATE TABLE outbox (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        messages text NOT NULL,
        message_count integer NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query('ALTER TABLE outbox ALTER COLUMN messages SET STORAGE EXTERNAL');
    // Messages not yet published keep their order, as one batch.
    await q.query(`
      INSERT INTO outbox (messages, message_count)
        SELECT string_agg(kind || E'\t' || message_key || E'\t' || value, E'\n' ORDER BY id), count(*)::int FROM outbox_v1 HAVING count(*) > 0`);
    await q.query('DROP TABLE outbox_v1');
    await q.query('DROP INDEX ledger_events_occurred_at');
    await q.query('CREATE INDEX ledger_events_occurred_at ON ledger_events USING brin (occurred_at)');
    await q.query('ALTER TABLE account_balances SET (fillfactor = 70)');
    await q.query('ALTER TABLE account_grants SET (fillfactor = 70)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE account_balances RESET (fillfactor)');
    await q.query('ALTER TABLE account_grants RESET (fillfactor)');
    await q.query('DROP INDEX ledger_events_occurred_at');
    await q.query('CREATE INDEX ledger_events_occurred_at ON ledger_events (occurred_at)');
    await q.query('DROP TABLE outbox');
    await q.query(`
      CREATE TABLE outbox (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        kind text NOT NULL CHECK (kind IN ('ledger', 'balance', 'deadletter')),
        message_key text NOT NULL,
        value text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
  }
}

export const ledgerMigrations = [CreateLedgerTables1733000000000, LedgerOutboxBatches1733000000001];
