/**
 * The event store against a real Postgres (one schema per test file): the log is append-only in the database,
 * concurrent appends are retried, events and offsets commit together or not at all, the outbox keeps each
 * account's order (each balance with the time of its oldest cause), and the projections are exactly what verify
 * recomputes from the events.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newEventId } from '@access/contracts';
import type { CreditAccountCommand } from '@access/credit-ledger-domain';
import { createDataSource, dropSchema, migratePostgres, type DataSource } from '@access/platform-postgres';
import { requireStack, testName } from '@access/testing';
import { LedgerStore, OffsetFencedError } from './ledger-store';
import { ledgerMigrations } from './migrations';
import { parseOutboxLine } from './outbox-lines';
import { rebuildProjections, verifyLedger } from './operations';

const now = () => new Date().toISOString();
const open = (plan = 'pro'): CreditAccountCommand => ({ type: 'openAccount', data: { plan }, metadata: { now: now() } });
const grant = (grantId: string, credits: number): CreditAccountCommand => ({ type: 'grant', data: { grantId, credits, source: 'purchase' }, metadata: { now: now() } });
const reserve = (admissionId: string, credits: number): CreditAccountCommand => ({
  type: 'reserve',
  data: { admissionId, requestId: `req-${admissionId.slice(-8)}`, credits, expiresAt: new Date(Date.now() + 3_600_000).toISOString() },
  metadata: { now: now() },
});
const settle = (admissionId: string, actualCredits: number): CreditAccountCommand => ({
  type: 'settle',
  data: { admissionId, requestId: `req-${admissionId.slice(-8)}`, actualCredits },
  metadata: { now: now() },
});

describe('LedgerStore on Postgres', () => {
  let url: string;
  const schema = testName('ledger_store');
  let db: DataSource;
  let store: LedgerStore;

  beforeAll(async () => {
    url = (await requireStack(['postgres'])).databaseUrl;
    await migratePostgres({ url, schema, migrations: ledgerMigrations });
    db = createDataSource({ url, schema });
    await db.initialize();
    store = new LedgerStore(db);
  });

  afterAll(async () => {
    await db?.destroy();
    await dropSchema(url, schema);
  });

  /** The outbox's messages in publishing order (one row per batch, one message per line). */
  const outboxMessages = async () => {
    const rows: { messages: string }[] = await db.query('SELECT messages FROM outbox ORDER BY id');
    return rows.flatMap((r) => r.messages.split('\n').map(parseOutboxLine));
  };
  const count = async (sql: string, params: unknown[] = []) => Number(((await db.query(sql, params)) as { n: string }[])[0]!.n);

  it('appends events with contiguous versions and projects the balance', async () => {
    const admissionId = newEventId();
    const result = await store.execute([
      { accountId: 'acct-a', command: open() },
      { accountId: 'acct-a', command: grant('g-1', 1000) },
      { accountId: 'acct-a', command: reserve(admissionId, 400) },
      { accountId: 'acct-a', command: settle(admissionId, 350) },
    ]);
    expect(result.outcomes.map((o) => o.result?.kind)).toEqual(['accepted', 'accepted', 'accepted', 'accepted']);
    const rows: { version: number; type: string }[] = await db.query("SELECT version, type FROM ledger_events WHERE account_id = 'acct-a' ORDER BY version");
    expect(rows.map((r) => [r.version, r.type])).toEqual([
      [1, 'account_opened'],
      [2, 'credits_granted'],
      [3, 'credits_reserved'],
      [4, 'reservation_settled'],
    ]);
    const [balance] = await db.query("SELECT balance_credits::int AS b, held_credits::int AS h, version FROM account_balances WHERE account_id = 'acct-a'");
    expect(balance).toEqual({ b: 650, h: 0, version: 4 });
    expect(await count("SELECT count(*) AS n FROM open_reservations WHERE account_id = 'acct-a'")).toBe(0);
    const [g] = await db.query("SELECT remaining_credits::int AS r, held_credits::int AS h FROM account_grants WHERE account_id = 'acct-a'");
    expect(g).toEqual({ r: 650, h: 0 });
  });

  it.each([
    ['UPDATE', "UPDATE ledger_events SET type = 'x' WHERE account_id = 'acct-a'"],
    ['DELETE', "DELETE FROM ledger_events WHERE account_id = 'acct-a'"],
    ['TRUNCATE', 'TRUNCATE ledger_events'],
  ])('refuses %s on ledger_events in the database', async (_op, sql) => {
    await expect(db.query(sql)).rejects.toThrow(/append-only/);
    expect(await count("SELECT count(*) AS n FROM ledger_events WHERE account_id = 'acct-a'")).toBe(4);
  });

  it('retries a batch decided on a stale state after another writer appended', async () => {
    await store.execute([{ accountId: 'acct-c', command: open() }, { accountId: 'acct-c', command: grant('g-1', 100) }]);
    const other = new LedgerStore(db); // another process: its own cache
    await other.state('acct-c'); // caches version 2
    await store.execute([{ accountId: 'acct-c', command: grant('g-2', 50) }]); // version 3, unknown to `other`
    const result = await other.execute([{ accountId: 'acct-c', command: grant('g-3', 25) }]);
    expect(result.retries).toBe(1);
    const rows: { version: number; grant: string }[] = await db.query(
      "SELECT version, data->>'grantId' AS grant FROM ledger_events WHERE account_id = 'acct-c' ORDER BY version",
    );
    expect(rows).toEqual([
      { version: 1, grant: null },
      { version: 2, grant: 'g-1' },
      { version: 3, grant: 'g-2' },
      { version: 4, grant: 'g-3' },
    ]);
    const [balance] = await db.query("SELECT balance_credits::int AS b FROM account_balances WHERE account_id = 'acct-c'");
    expect(balance).toEqual({ b: 175 });
  });

  it('runs concurrent batches on one account one after the other, and disjoint ones side by side', async () => {
    await store.execute([{ accountId: 'acct-p', command: open() }, { accountId: 'acct-q', command: open() }]);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => store.execute([{ accountId: i % 2 === 0 ? 'acct-p' : 'acct-q', command: grant(`g-${i}`, i + 1) }])),
    );
    // Within one process nobody decides on a state another batch is about to change: no conflict, no retry.
    expect(results.map((r) => r.retries)).toEqual(Array.from({ length: 20 }, () => 0));
    const versions: { account_id: string; versions: number[] }[] = await db.query(
      "SELECT account_id, array_agg(version ORDER BY version) AS versions FROM ledger_events WHERE account_id IN ('acct-p', 'acct-q') GROUP BY 1 ORDER BY 1",
    );
    expect(versions).toEqual([
      { account_id: 'acct-p', versions: Array.from({ length: 11 }, (_, i) => i + 1) },
      { account_id: 'acct-q', versions: Array.from({ length: 11 }, (_, i) => i + 1) },
    ]);
  });

  it('commits events and the consumer offset together, or neither', async () => {
    const group = testName('g');
    const advance = (expected: string | null, next: string) => ({ groupId: group, topic: 't', partition: 0, expectedNextOffset: expected, nextOffset: next });
    await store.execute([{ accountId: 'acct-o', command: open() }], { offsets: [advance(null, '10')] });
    expect((await store.storedOffsets(group, 't')).get(0)).toBe('10');

    // A batch that starts from a position another consumer has moved on from is fenced: nothing of it is written.
    const before = await count("SELECT count(*) AS n FROM ledger_events WHERE account_id = 'acct-o'");
    await expect(store.execute([{ accountId: 'acct-o', command: grant('g-x', 5) }], { offsets: [advance('5', '12')] })).rejects.toBeInstanceOf(OffsetFencedError);
    expect(await count("SELECT count(*) AS n FROM ledger_events WHERE account_id = 'acct-o'")).toBe(before);
    expect((await outboxMessages()).filter((m) => m.value.includes('"g-x"'))).toEqual([]);
    expect((await store.storedOffsets(group, 't')).get(0)).toBe('10');
    // The cache was not advanced either: the same grant succeeds from the right position.
    const ok = await store.execute([{ accountId: 'acct-o', command: grant('g-x', 5) }], { offsets: [advance('10', '12')] });
    expect(ok.outcomes[0]?.result?.kind).toBe('accepted');
    expect((await store.storedOffsets(group, 't')).get(0)).toBe('12');
  });

  it('writes the outbox in stream order, with one balance per account per batch', async () => {
    await db.query('DELETE FROM outbox');
    const ids = [newEventId(), newEventId(), newEventId()];
    await store.execute([{ accountId: 'acct-x', command: open() }, { accountId: 'acct-x', command: grant('g', 1000) }]);
    await store.execute(ids.map((id) => ({ accountId: 'acct-x', command: reserve(id, 10) })));
    await store.execute(ids.map((id) => ({ accountId: 'acct-x', command: settle(id, 7) })));
    const rows = (await outboxMessages()).filter((m) => m.key === 'acct-x');
    const ledgerVersions = rows.filter((r) => r.kind === 'ledger').map((r) => (JSON.parse(r.value) as { data: { version: number } }).data.version);
    // account_opened (version 1) is not a contract event; the rest leave in order.
    expect(ledgerVersions).toEqual([2, 3, 4, 5, 6, 7, 8]);
    const balances = rows.filter((r) => r.kind === 'balance').map((r) => (JSON.parse(r.value) as { data: { version: number; balanceCredits: number } }).data);
    expect(balances.map((b) => b.version)).toEqual([2, 5, 8]);
    expect(balances.at(-1)?.balanceCredits).toBe(1000 - 21);
  });

  it('stamps each balance with the earliest cause among the commands that changed its account', async () => {
    await db.query('DELETE FROM outbox');
    await store.execute([{ accountId: 'acct-t', command: open() }, { accountId: 'acct-t', command: grant('g', 1000) }, { accountId: 'acct-u', command: open() }]);
    await store.execute([
      { accountId: 'acct-t', command: grant('g-2', 5), causedAtMs: 2_000 },
      { accountId: 'acct-t', command: grant('g-3', 5), causedAtMs: 1_500 },
      // Changes nothing (the same grant again): its older cause is not reflected by the new balance.
      { accountId: 'acct-t', command: grant('g-2', 5), causedAtMs: 1_000 },
      { accountId: 'acct-u', command: grant('g', 5), causedAtMs: 3_000 },
    ]);
    const balances = (await outboxMessages()).filter((m) => m.kind === 'balance').map((m) => [m.key, m.causedAtMs]);
    expect(balances).toEqual([['acct-t', null], ['acct-u', null], ['acct-t', 1_500], ['acct-u', 3_000]]);
  });

  it('keeps projections that verify recomputes from the events, before and after a rebuild', async () => {
    expect((await verifyLedger(db)).failed).toEqual([]);
    await db.query("UPDATE account_balances SET balance_credits = balance_credits + 1 WHERE account_id = 'acct-a'");
    const broken = await verifyLedger(db);
    expect(broken.failed.map((f) => f.accountId)).toEqual(['acct-a']);
    expect(broken.failed[0]?.mismatches.map((m) => m.field)).toContain('balanceCredits');
    await rebuildProjections(db);
    expect((await verifyLedger(db)).failed).toEqual([]);
  });
});
