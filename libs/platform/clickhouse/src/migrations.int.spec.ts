import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireStack, testName } from '@access/testing';
import { Clickhouse } from './client';
import { migrateClickhouse } from './migrations';
import { identifier, quote, sql, ident } from './quote';

describe('ClickHouse migrations, insert and select against the real server', () => {
  const database = testName('ch');
  let url: string;
  let ch: Clickhouse;

  beforeAll(async () => {
    url = (await requireStack(['clickhouse'])).clickhouseUrl;
    ch = new Clickhouse({ url, database: 'default' });
  });
  afterAll(async () => {
    await ch.command(`DROP DATABASE IF EXISTS ${identifier(database)}`);
    await ch.close();
  });

  it('applies each migration once and records it', async () => {
    const dir = join(__dirname, 'test-migrations');
    expect(await migrateClickhouse({ url, database, dir })).toBe(2);
    expect(await migrateClickhouse({ url, database, dir })).toBe(0);
    const versions = await ch.query<{ version: number; name: string }>(`SELECT version, name FROM ${identifier(database)}.schema_migrations ORDER BY version`);
    expect(versions.map((v) => [Number(v.version), v.name])).toEqual([[1, 'events'], [2, 'add_column']]);
  });

  it('inserts rows and selects them back, with hostile values quoted', async () => {
    const db = new Clickhouse({ url, database });
    try {
      await db.insert('events', [
        { event_id: "e'1", time: '2026-11-25 10:00:00', time_ms: 123, credits: -5, account_id: "acct'; DROP TABLE x; --" },
        { event_id: 'e2', time: '2026-11-25 10:00:01', time_ms: 0, credits: 9_000_000_000, account_id: 'acct-2' },
      ]);
      const rows = await db.query<{ event_id: string; credits: string; account_id: string }>(
        sql`SELECT event_id, credits, account_id FROM ${ident('events')} WHERE account_id = ${"acct'; DROP TABLE x; --"}`,
      );
      expect(rows).toEqual([{ event_id: "e'1", credits: '-5', account_id: "acct'; DROP TABLE x; --" }]);
      const [sum] = await db.query<{ total: string }>(`SELECT sum(credits) AS total FROM events WHERE event_id IN (${quote("e'1")}, ${quote('e2')})`);
      expect(sum?.total).toBe('8999999995');
    } finally {
      await db.close();
    }
  });
});
