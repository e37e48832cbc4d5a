/**
 * LedgerSql's ordered reads on the real Postgres, past the point where numbers and their text disagree (9 < 10, but
 * '10' < '9'): the outbox is published in id order and replay pages through the log in position order.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CreditAccountCommand } from '@access/credit-ledger-domain';
import { createDataSource, dropSchema, migratePostgres, type DataSource } from '@access/platform-postgres';
import { requireStack, testName } from '@access/testing';
import { LedgerStore } from '../ledger-store';
import { ledgerMigrations } from '../migrations';
import { LedgerSql } from './ledger-sql';

const now = () => new Date().toISOString();
const open = (): CreditAccountCommand => ({ type: 'openAccount', data: { plan: 'pro' }, metadata: { now: now() } });
const grant = (grantId: string): CreditAccountCommand => ({ type: 'grant', data: { grantId, credits: 5, source: 'purchase' }, metadata: { now: now() } });

describe('LedgerSql ordered reads', () => {
  let url: string;
  const schema = testName('ledger_sql');
  let db: DataSource;
  let sql: LedgerSql;

  beforeAll(async () => {
    url = (await requireStack(['postgres'])).databaseUrl;
    await migratePostgres({ url, schema, migrations: ledgerMigrations });
    db = createDataSource({ url, schema });
    await db.initialize();
    sql = new LedgerSql(db);
    // One account, 12 batches one after the other: outbox ids and log positions 1..12 and more, each a later state.
    const store = new LedgerStore(db);
    await store.execute([{ accountId: 'acct-order', command: open() }]);
    for (let i = 1; i <= 12; i++) await store.execute([{ accountId: 'acct-order', command: grant(`g-${i}`) }]);
  });

  afterAll(async () => {
    await db?.destroy();
    await dropSchema(url, schema);
  });

  it('reads the outbox in id order, so the newest balance of an account is published last', async () => {
    const rows = await sql.outboxRows(100);
    expect(rows.length).toBe(13);
    const ids = rows.map((r) => Number(r.id));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    // The last row holds the account's newest balance: 12 grants of 5 credits.
    expect(rows.at(-1)!.messages).toContain('"balanceCredits":60');
  });

  it('pages through the log in position order, every event once', async () => {
    const versions: number[] = [];
    let after = '0';
    for (let page = 0; page < 20; page++) {
      const { events, last } = await sql.publishablePage({ accountId: 'acct-order' }, after, 5);
      versions.push(...events.map((e) => e.version));
      if (last === null) break;
      after = last;
    }
    // account_opened is not published; the 12 grants are versions 2..13, in order, once each.
    expect(versions).toEqual(Array.from({ length: 12 }, (_, i) => i + 2));
  });
});
