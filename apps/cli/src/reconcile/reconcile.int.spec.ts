/**
 * `access reconcile` end to end against real Postgres, ClickHouse and Kafka: a ledger schema, a ClickHouse database
 * and a balances topic of the test's own, seeded with agreeing rows (exit 0), then with planted differences (exit 1).
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS, SOURCES, makeEvent, newEventId } from '@access/contracts';
import { ledgerMigrations } from '@access/credit-ledger-adapters';
import { EventProducer, KafkaAdmin, createKafka, encodeEvent } from '@access/platform-kafka';
import { Clickhouse, identifier, migrateClickhouse } from '@access/platform-clickhouse';
import { createDataSource, dropSchema, migratePostgres, type DataSource } from '@access/platform-postgres';
import { requireStack, testName, type Stack } from '@access/testing';

const root = join(__dirname, '..', '..', '..', '..');

async function eventually(check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('ClickHouse mutation did not finish');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('access reconcile', () => {
  const schema = testName('reconcile');
  const database = testName('reconcile');
  const balancesTopic = testName('balances');
  let stack: Stack;
  let db: DataSource;
  let ch: Clickhouse;
  let admin: KafkaAdmin;
  let producer: EventProducer;

  async function balanceMessage(accountId: string, version: number, balanceCredits: number): Promise<void> {
    const event = makeEvent(EVENTS.balanceChanged, {
      id: newEventId(), source: SOURCES.creditLedger, time: new Date().toISOString(),
      data: { accountId, version, balanceCredits, heldCredits: 0, availableCredits: balanceCredits, plan: 'pro', occurredAt: '2026-11-25T10:00:00.000Z' },
    });
    await producer.send(encodeEvent(event, balancesTopic));
  }

  /** Runs the command as a child (asynchronously: the test's own ClickHouse and Kafka clients stay alive meanwhile). */
  function run(): Promise<{ status: number | null; stdout: string; stderr: string }> {
    const child = spawn(process.execPath, [join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(root, 'apps', 'cli', 'src', 'main.ts'), 'reconcile', '--since', '2026-11-25T00:00:00Z', '--until', '2026-11-26T00:00:00Z'], {
      cwd: root,
      env: {
        ...process.env, DATABASE_URL: stack.databaseUrl, LEDGER_DB_SCHEMA: schema, CLICKHOUSE_URL: stack.clickhouseUrl, CLICKHOUSE_DATABASE: database,
        KAFKA_BROKERS: stack.kafkaBrokers.join(','), RECONCILE_TOPIC_BALANCES: balancesTopic,
      },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    return new Promise((resolve) => child.on('close', (status) => resolve({ status, stdout, stderr })));
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

  async function usage(admissionId: string, accountId: string, charged: number, allowance = 0): Promise<void> {
    await ch.insert('request_usage', [
      { time: '2026-11-25 10:05:00', time_ms: 0, event_id: randomUUID(), admission_id: admissionId, account_id: accountId, status: 'succeeded', charged_credits: charged, allowance_credits: allowance },
    ]);
  }

  beforeAll(async () => {
    stack = await requireStack(['postgres', 'clickhouse', 'kafka']);
    const kafka = createKafka({ brokers: stack.kafkaBrokers, clientId: testName('reconcile') });
    admin = new KafkaAdmin(kafka);
    producer = new EventProducer(kafka);
    await Promise.all([admin.connect(), producer.connect()]);
    await admin.ensureTopics([{ name: balancesTopic, partitions: 2, compacted: true }]);
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
    await usage('adm-2', 'acct-1', 0, 25);
    await balanceMessage('acct-1', 1, 1000);
    await balanceMessage('acct-1', 2, 960);
  });

  afterAll(async () => {
    await producer?.disconnect();
    await admin?.deleteTopics([balancesTopic]).catch(() => undefined);
    await admin?.disconnect();
    await db?.destroy();
    await dropSchema(stack.databaseUrl, schema);
    await ch?.command(`DROP DATABASE IF EXISTS ${identifier(database)}`);
    await ch?.close();
  });

  it('exits 0 when usage, settlements and balances agree', async () => {
    const r = await run();
    expect(r.stderr).toContain('0 discrepancies');
    expect(r.stdout).toBe('');
    expect(r.status).toBe(0);
  });

  it('given a wrong amount in ClickHouse, then prints both sides for the account and exits 1', async () => {
    await ch.command(`ALTER TABLE ${identifier(database)}.request_usage UPDATE charged_credits = 45 WHERE admission_id = 'adm-1'`);
    try {
      await eventually(async () => Number((await ch.query<{ n: string }>(`SELECT sum(charged_credits) AS n FROM ${identifier(database)}.request_usage`))[0]?.n) === 45);
      const r = await run();
      expect(r.status).toBe(1);
      expect(r.stdout).toBe('usage_amount_mismatch: account acct-1: ClickHouse request_usage Σ charged_credits 45, ledger Σ settled 40 (over 2 completed requests)\n');
    } finally {
      await ch.command(`ALTER TABLE ${identifier(database)}.request_usage UPDATE charged_credits = 40 WHERE admission_id = 'adm-1'`);
      await eventually(async () => Number((await ch.query<{ n: string }>(`SELECT sum(charged_credits) AS n FROM ${identifier(database)}.request_usage`))[0]?.n) === 40);
    }
  });

  it('given admission\'s view of a balance that differs from Postgres, then prints both and exits 1', async () => {
    await db.query(`UPDATE account_balances SET balance_credits = 950, available_credits = 950 WHERE account_id = 'acct-1'`);
    try {
      const r = await run();
      expect(r.status).toBe(1);
      expect(r.stdout).toContain(
        'balance_message_mismatch: account acct-1: Postgres account_balances version 2, balance 950, held 0, available 950; ' +
          'newest access.balances.v1 message version 2, balance 960, held 0, available 960',
      );
    } finally {
      await db.query(`UPDATE account_balances SET balance_credits = 960, available_credits = 960 WHERE account_id = 'acct-1'`);
    }
  });

  it('prints each discrepancy and exits 1', async () => {
    await ledgerEvent('acct-1', 3, 'reservation_settled', { admissionId: 'adm-1', actualCredits: 40 }); // doubled, never ingested
    await usage('adm-3', 'acct-1', 70); // completed, never settled
    const r = await run();
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('settled_more_than_once: admission adm-1 was settled 2 times');
    expect(r.stdout).toContain('ledger_event_missing_in_clickhouse');
    expect(r.stdout).toContain('usage_without_settlement: admission adm-3');
  });
});
