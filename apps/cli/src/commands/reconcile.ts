/**
 * `access reconcile --since TIME [--until TIME] [--account ID]`: compares usage in ClickHouse, settlements in
 * the ledger and balances, prints each discrepancy, exits 1 if there is any. Read-only on both stores.
 */
import { Command, InvalidArgumentError } from 'commander';
import { z } from 'zod';
import { Clickhouse, inList, sql } from '@access/platform-clickhouse';
import { commonEnvSchema, loadEnvOrExit } from '@access/platform-config';
import { LedgerSql } from '@access/credit-ledger-adapters';
import { createDataSource } from '@access/platform-postgres';
import { describe, reconcile, type ClickhouseSide, type LedgerSide } from '../reconcile/compare';

const reconcileEnv = commonEnvSchema.extend({
  LEDGER_DB_SCHEMA: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/).default('public'),
});

function time(value: string): Date {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) throw new InvalidArgumentError(`not a time: ${value} (use ISO-8601, e.g. 2026-11-25T10:00:00Z)`);
  return date;
}

const settledType = 'reservation_settled';
const releasedTypes = ['reservation_voided', 'reservation_expired'];

async function readLedger(env: z.infer<typeof reconcileEnv>, since: Date, until: Date, account: string | undefined): Promise<LedgerSide> {
  const db = createDataSource({ url: env.DATABASE_URL, schema: env.LEDGER_DB_SCHEMA, poolSizeMax: 1, applicationName: 'access-reconcile' });
  await db.initialize();
  try {
    const { events, allowances, balances } = await new LedgerSql(db).reconcileRows(since, until, account);
    const side: LedgerSide = { publishedEventIds: new Map(), settlements: new Map(), released: new Set(), allowance: new Map(), projectedBalances: new Map() };
    for (const e of events) {
      side.publishedEventIds.set(e.event_id, e.account_id);
      if (e.type === settledType && e.admission_id) {
        const list = side.settlements.get(e.admission_id) ?? [];
        list.push(Number(e.actual ?? 0));
        side.settlements.set(e.admission_id, list);
      }
      if (releasedTypes.includes(e.type) && e.admission_id) side.released.add(e.admission_id);
    }
    for (const a of allowances) side.allowance.set(a.admission_id, Number(a.allowance_credits));
    for (const b of balances) side.projectedBalances.set(b.account_id, Number(b.balance_credits));
    return side;
  } finally {
    await db.destroy();
  }
}

async function readClickhouse(env: z.infer<typeof reconcileEnv>, since: Date, until: Date, account: string | undefined, ledger: LedgerSide): Promise<ClickhouseSide> {
  const ch = new Clickhouse({ url: env.CLICKHOUSE_URL, database: env.CLICKHOUSE_DATABASE });
  try {
    const accountFilter = account === undefined ? sql`1` : sql`account_id = ${account}`;
    const ids = [...ledger.publishedEventIds.keys()];
    const ledgerEntryIds = new Set<string>();
    for (let i = 0; i < ids.length; i += 5_000) {
      const chunk = ids.slice(i, i + 5_000);
      const rows = await ch.query<{ event_id: string }>(sql`SELECT event_id FROM ledger_entries WHERE event_id IN ${inList(chunk)}`);
      for (const r of rows) ledgerEntryIds.add(r.event_id);
    }
    const usageRows = await ch.query<{ admission_id: string; account_id: string; charged_credits: string; status: string }>(
      sql`SELECT admission_id, account_id, charged_credits, status FROM request_usage WHERE time >= ${since} AND time < ${until} AND ` + accountFilter,
    );
    const usage = new Map(usageRows.map((r) => [r.admission_id, { accountId: r.account_id, chargedCredits: Number(r.charged_credits), status: r.status }]));
    // Settlements in the range whose completion landed just before it: fetch their usage rows by id.
    const missing = [...ledger.settlements.keys()].filter((id) => !usage.has(id));
    for (let i = 0; i < missing.length; i += 5_000) {
      const chunk = missing.slice(i, i + 5_000);
      const rows = await ch.query<{ admission_id: string; account_id: string; charged_credits: string; status: string }>(
        sql`SELECT admission_id, account_id, charged_credits, status FROM request_usage WHERE admission_id IN ${inList(chunk)}`,
      );
      for (const r of rows) usage.set(r.admission_id, { accountId: r.account_id, chargedCredits: Number(r.charged_credits), status: r.status });
    }
    const balanceRows = await ch.query<{ account_id: string; balance: string }>(
      'SELECT account_id, sum(balance_delta) AS balance FROM ledger_entries WHERE ' + accountFilter + ' GROUP BY account_id',
    );
    return { ledgerEntryIds, usage, balances: new Map(balanceRows.map((r) => [r.account_id, Number(r.balance)])) };
  } finally {
    await ch.close();
  }
}

export function registerReconcileCommand(program: Command): void {
  program
    .command('reconcile')
    .description('Compare usage in ClickHouse, settlements in the ledger and balances; exit 1 on any discrepancy')
    .requiredOption('--since <time>', 'start of the range (ISO-8601)', time)
    .option('--until <time>', 'end of the range (default: one minute ago, so in-flight events are not counted)', time)
    .option('--account <id>', 'only this account')
    .action(async (options: { since: Date; until?: Date; account?: string }) => {
      const env = loadEnvOrExit(reconcileEnv);
      const until = options.until ?? new Date(Date.now() - 60_000);
      const ledger = await readLedger(env, options.since, until, options.account);
      const clickhouse = await readClickhouse(env, options.since, until, options.account, ledger);
      const found = reconcile(ledger, clickhouse);
      for (const d of found) process.stdout.write(`${d.kind}: ${describe(d)}\n`);
      process.stderr.write(
        `reconcile ${options.since.toISOString()} .. ${until.toISOString()}: ${ledger.publishedEventIds.size} ledger events, ` +
          `${clickhouse.usage.size} completed requests, ${new Set([...ledger.projectedBalances.keys(), ...clickhouse.balances.keys()]).size} accounts; ` +
          `${found.length} discrepancies\n`,
      );
      if (found.length > 0) process.exitCode = 1;
    });
}
