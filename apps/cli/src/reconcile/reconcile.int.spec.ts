/**
 * `access reconcile` end to end against real Postgres and ClickHouse: a ledger schema and a ClickHouse
 * database of the test's own, seeded with agreeing rows (exit 0), then with one discrepancy of each kind (exit 1).
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ledgerMigrations } from '@access/credit-ledger-adapters';
import { Clickhouse, identifier, migrateClickhouse } from '@access/platform-clickhouse';
import { createDataSource, dropSchema, migratePostgres, type DataSource } from '@access/platform-postgres';
import { requireStack, testName, type Stack } from '@access/testing';

const root = join(__dirname, '..', '..', '..', '..');

describe('access reconcile', () => {
  const schema = testName('reconcile');
  const database = testName('reconcile');
  let stack: Stack;
  let db: DataSource;
  let ch: Clickhouse;

  function run(): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync(process.execPath, [join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(root, 'apps', 'cli', 'src', 'main.ts'), 'reconcile', '--since', '2026-11-25T00:00:00Z', '--until', '2026-11-26T00:00:00Z'], {
      cwd: root,
      env: { ...process.env, DATABASE_URL: stack.databaseUrl, LEDGER_DB_SCHEMA: schema, CLICKHOUSE_URL: stack.clickhouseUrl, CLICKHOUSE_DATABASE: database },
      encoding: 'utf8',
    });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  async function ledgerEvent(accountId: string, version: number, type: string, data: Record<string, unknown>): Promise<string> {
    const id = randomUUID();
    await db.query('INSERT INTO ledger_events (account_id, version, event_id, type, occurred_at, data) VALUES ($1, $2, $3, $4, $5, $6)', [
      accountId, version, id, type, '2026-11-25T10:00:00Z', JSON.stringify(data),
    ]);
    return id;
  }

  async function entry(eventId: string, accountId: string, type: string, balanceDelta: number): Promise<void> {
    await ch.insert('ledger_entries', [{ time: '2026-11-25 10:00:00', time_ms: 0, event_id: eventId, account_id: accountId, version: 1, type, credits: Math.abs(balanceDelta), balance_delta: balanceDelta, held_delta: 0 }]);
  }

  async function usage(admissionId: string, accountId: string, charged: number): Promise<void> {
    await ch.insert('request_usage', [{ time: '2026-11-25 10:05:00', time_ms: 0, event_id: randomUUID(), admission_id: admissionId, account_id: accountId, status: 'succeeded', charged_credits: charged }]);
  }

  beforeAll(async () => {
    stack = await requireStack(['postgres', 'clickhouse']);
    await migratePostgres({ url: stack.databaseUrl, schema, migrations: ledgerMigrations });
    db = createDataSource({ url: stack.databaseUrl, schema });
    await db.initialize();
    await migrateClickhouse({ url: stack.clickhouseUrl, database, dir: join(root, 'infra', 'clickhouse', 'migrations') });
    ch = new Clickhouse({ url: stack.clickhouseUrl, database });

    // One account: granted 1000, one request settled at 40, one paid by allowance only. All three datasets agree.
    const granted = await ledgerEvent('acct-1', 1, 'credits_granted', { grantId: 'g1', credits: 1000 });
    const settled = await ledgerEvent('acct-1', 2, 'reservation_settled', { admissionId: 'adm-1', actualCredits: 40 });
    await db.query(`INSERT INTO account_balances (account_id, plan, balance_credits, held_credits, available_credits, pending_credits, unallocated_credits, overshoot_credits, version)
                    VALUES ('acct-1', 'pro', 960, 0, 960, 0, 0, 0, 2)`);
    await db.query(`INSERT INTO admission_allowance (admission_id, account_id, allowance_credits, decided_at) VALUES ('adm-2', 'acct-1', 30, '2026-11-25T10:00:00Z')`);
    await entry(granted, 'acct-1', 'ledger.credits_granted', 1000);
    await entry(settled, 'acct-1', 'ledger.reservation_settled', -40);
    await usage('adm-1', 'acct-1', 40);
    await usage('adm-2', 'acct-1', 25);
  });

  afterAll(async () => {
    await db?.destroy();
    await dropSchema(stack.databaseUrl, schema);
    await ch?.command(`DROP DATABASE IF EXISTS ${identifier(database)}`);
    await ch?.close();
  });

  it('exits 0 when usage, settlements and balances agree', () => {
    const r = run();
    expect(r.stderr).toContain('0 discrepancies');
    expect(r.stdout).toBe('');
    expect(r.status).toBe(0);
  });

  it('prints each discrepancy and exits 1', async () => {
    await ledgerEvent('acct-1', 3, 'reservation_settled', { admissionId: 'adm-1', actualCredits: 40 }); // doubled, never ingested
    await usage('adm-3', 'acct-1', 70); // completed, never settled
    const r = run();
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('settled_more_than_once: admission adm-1 was settled 2 times');
    expect(r.stdout).toContain('ledger_event_missing_in_clickhouse');
    expect(r.stdout).toContain('usage_without_settlement: admission adm-3');
  });
});
