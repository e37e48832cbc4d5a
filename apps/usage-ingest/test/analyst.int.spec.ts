import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Clickhouse, clickhouseErrorCode, identifier, migrateClickhouse } from '@access/platform-clickhouse';
import { requireStack } from '@access/testing';
import { migrationsDir } from './harness';

// The analyst user (infra/clickhouse/users.d/analyst.xml) is scoped to the `access` database, so this test runs there;
// it only reads, and every write it attempts must be refused.
const database = process.env.CLICKHOUSE_DATABASE ?? 'access';
const readonlyCode = 164;

describe('the read-only analyst user', () => {
  let admin: Clickhouse;
  let analyst: Clickhouse;
  let tables: string[];

  beforeAll(async () => {
    const { clickhouseUrl } = await requireStack(['clickhouse']);
    await migrateClickhouse({ url: clickhouseUrl, database, dir: migrationsDir }); // what infra:up does; idempotent
    admin = new Clickhouse({ url: clickhouseUrl, database });
    analyst = new Clickhouse({ url: clickhouseUrl, database, username: 'analyst', password: 'analyst' });
    tables = (await admin.query<{ name: string }>(`SELECT name FROM system.tables WHERE database = '${database}' ORDER BY name`)).map((t) => t.name);
  });
  afterAll(async () => {
    await admin?.close();
    await analyst?.close();
  });

  it('sees every table, rollup and view of the schema', () => {
    expect(tables).toEqual(expect.arrayContaining([
      'admission_decisions', 'request_usage', 'ledger_entries', 'usage_minutely', 'decisions_minutely', 'user_activity_minutely', 'abuse_signals',
    ]));
  });

  it('reads every table', async () => {
    for (const table of tables) {
      await expect(analyst.query(`SELECT * FROM ${identifier(database)}.${identifier(table)} LIMIT 1`), table).resolves.toBeInstanceOf(Array);
    }
  });

  const db = () => identifier(database);
  it.each([
    ['insert', () => `INSERT INTO ${db()}.request_usage (event_id) VALUES ('analyst-was-here')`],
    ['drop a table', () => `DROP TABLE ${db()}.request_usage`],
    ['drop a partition', () => `ALTER TABLE ${db()}.request_usage DROP PARTITION 202611`],
    ['delete rows', () => `ALTER TABLE ${db()}.ledger_entries DELETE WHERE 1 = 1`],
    ['truncate', () => `TRUNCATE TABLE ${db()}.admission_decisions`],
    ['create a table', () => `CREATE TABLE ${db()}.analyst_scratch (x UInt8) ENGINE = Memory`],
    ['drop the database', () => `DROP DATABASE ${db()}`],
    ['rename a table', () => `RENAME TABLE ${db()}.usage_minutely TO ${db()}.usage_minutely_old`],
    ['optimize', () => `OPTIMIZE TABLE ${db()}.usage_minutely FINAL`],
  ])('cannot %s', async (_what, statement) => {
    const error = await analyst.command(statement()).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(clickhouseErrorCode(error)).toBe(readonlyCode);
  });

  it('left everything in place', async () => {
    const after = (await admin.query<{ name: string }>(`SELECT name FROM system.tables WHERE database = '${database}' ORDER BY name`)).map((t) => t.name);
    expect(after).toEqual(tables);
    const [row] = await admin.query<{ n: string }>(`SELECT count(event_id) AS n FROM ${db()}.request_usage WHERE event_id = 'analyst-was-here'`);
    expect(row?.n).toBe('0');
  });
});
