/**
 * `access reconcile --since TIME [--until TIME] [--account ID]`: compares, per account and in amounts, usage in
 * ClickHouse, settlements in the ledger, balances in Postgres and admission's view of them (the newest message per
 * account in `access.balances.v1`); prints each difference with both sides, exits 1 if there is any. Read-only.
 */
import { Command, InvalidArgumentError } from 'commander';
import { z } from 'zod';
import { EVENTS, TOPICS } from '@access/contracts';
import { Clickhouse, inList, sql } from '@access/platform-clickhouse';
import { commonEnvSchema, kafkaBrokers, loadEnvOrExit } from '@access/platform-config';
import { LedgerSql, type ReconcileEventRow } from '@access/credit-ledger-adapters';
import { createDataSource } from '@access/platform-postgres';
import { KafkaAdmin, RawBatchConsumer, createKafka, decodeEvent } from '@access/platform-kafka';
import { describe, reconcile, type BalanceView, type ClickhouseSide, type KafkaSide, type LedgerSide } from '../reconcile/compare';

const reconcileEnv = commonEnvSchema.extend({
  LEDGER_DB_SCHEMA: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/).default('public'),
  RECONCILE_TOPIC_BALANCES: z.string().min(1).default(TOPICS.balances),
});
type ReconcileEnv = z.infer<typeof reconcileEnv>;

/** Ids per lookup query (Postgres array parameters, ClickHouse IN lists). */
const idsPerQueryMax = 5_000;
/** A settlement follows its completion: looked up by admission up to this long after the range ends. */
const settlementLagMsMax = 24 * 60 * 60 * 1000;
/** Reading `access.balances.v1` to its end may take this long before the command gives up. */
const balancesReadMsMax = 60_000;

function time(value: string): Date {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) throw new InvalidArgumentError(`not a time: ${value} (use ISO-8601, e.g. 2026-11-25T10:00:00Z)`);
  return date;
}

const settledType = 'reservation_settled';
const releasedTypes = ['reservation_voided', 'reservation_expired'];
const adjustedType = 'credits_adjusted';
/** The adjustment id of a late allowance refund (see the ledger's intake: `allowance:<admissionId>`). */
const allowanceRefundPrefix = 'allowance:';

type LedgerRow = ReconcileEventRow;

function addLedgerRow(side: LedgerSide, e: LedgerRow): void {
  if (e.type === settledType && e.admission_id) {
    const list = side.settlements.get(e.admission_id) ?? [];
    list.push(Number(e.actual ?? 0));
    side.settlements.set(e.admission_id, list);
    side.settlementAccounts.set(e.admission_id, e.account_id);
  }
  if (releasedTypes.includes(e.type) && e.admission_id) side.released.add(e.admission_id);
  if (e.type === adjustedType && e.adjustment_id?.startsWith(allowanceRefundPrefix)) {
    side.allowanceRefunds.set(e.adjustment_id.slice(allowanceRefundPrefix.length), Number(e.credits ?? 0));
  }
}

/** The ledger's SQL (every statement on its tables lives in LedgerSql), on a connection of its own. */
async function withLedger<T>(env: ReconcileEnv, run: (ledger: LedgerSql) => Promise<T>): Promise<T> {
  const db = createDataSource({ url: env.DATABASE_URL, schema: env.LEDGER_DB_SCHEMA, poolSizeMax: 1, applicationName: 'access-reconcile' });
  await db.initialize();
  try {
    return await run(new LedgerSql(db));
  } finally {
    await db.destroy();
  }
}

async function readLedger(env: ReconcileEnv, since: Date, until: Date, account: string | undefined): Promise<LedgerSide> {
  return withLedger(env, async (ledger) => {
    const side: LedgerSide = {
      publishedEventIds: new Map(), settlements: new Map(), settlementAccounts: new Map(), allowanceRefunds: new Map(), released: new Set(), projectedBalances: new Map(),
    };
    // The projection is read before the ledger events and the balances topic: anything newer there is a change
    // made since, never a difference.
    const balances = await ledger.reconcileBalances(account);
    for (const b of balances) {
      side.projectedBalances.set(b.account_id, {
        version: Number(b.version), balanceCredits: Number(b.balance_credits), heldCredits: Number(b.held_credits), availableCredits: Number(b.available_credits),
      });
    }
    const events = await ledger.reconcileEvents(since, until, account);
    for (const e of events) {
      side.publishedEventIds.set(e.event_id, e.account_id);
      addLedgerRow(side, e);
    }
    return side;
  });
}

/**
 * Settlements and allowance refunds of admissions completed in the range that the ledger recorded after it (a
 * settlement follows its completion), so both sides of the amount comparison cover the same requests.
 */
async function readLaterSettlements(env: ReconcileEnv, until: Date, ledger: LedgerSide, admissionIds: string[]): Promise<void> {
  if (admissionIds.length === 0) return;
  await withLedger(env, async (sqlOfLedger) => {
    for (let i = 0; i < admissionIds.length; i += idsPerQueryMax) {
      const chunk = admissionIds.slice(i, i + idsPerQueryMax);
      const rows = await sqlOfLedger.laterSettlements(until, new Date(until.getTime() + settlementLagMsMax), chunk, allowanceRefundPrefix);
      for (const e of rows) addLedgerRow(ledger, e);
    }
  });
}

type UsageRow = { admission_id: string; account_id: string; charged_credits: string; allowance_credits: string; status: string };

async function readClickhouse(env: ReconcileEnv, since: Date, until: Date, account: string | undefined, ledger: LedgerSide): Promise<ClickhouseSide> {
  const ch = new Clickhouse({ url: env.CLICKHOUSE_URL, database: env.CLICKHOUSE_DATABASE });
  try {
    const accountFilter = account === undefined ? sql`1` : sql`account_id = ${account}`;
    const ids = [...ledger.publishedEventIds.keys()];
    const ledgerEntryIds = new Set<string>();
    for (let i = 0; i < ids.length; i += idsPerQueryMax) {
      const chunk = ids.slice(i, i + idsPerQueryMax);
      const rows = await ch.query<{ event_id: string }>(sql`SELECT event_id FROM ledger_entries WHERE event_id IN ${inList(chunk)}`);
      for (const r of rows) ledgerEntryIds.add(r.event_id);
    }
    const usage: ClickhouseSide['usage'] = new Map();
    const addUsage = (rows: UsageRow[]) => {
      for (const r of rows) {
        usage.set(r.admission_id, { accountId: r.account_id, chargedCredits: Number(r.charged_credits), allowanceCredits: Number(r.allowance_credits), status: r.status });
      }
    };
    addUsage(
      await ch.query<UsageRow>(
        sql`SELECT admission_id, account_id, charged_credits, allowance_credits, status FROM request_usage WHERE time >= ${since} AND time < ${until} AND ` + accountFilter,
      ),
    );
    // Settlements in the range whose completion landed just before it: fetch their usage rows by id.
    const missing = [...ledger.settlements.keys()].filter((id) => !usage.has(id));
    for (let i = 0; i < missing.length; i += idsPerQueryMax) {
      const chunk = missing.slice(i, i + idsPerQueryMax);
      addUsage(await ch.query<UsageRow>(sql`SELECT admission_id, account_id, charged_credits, allowance_credits, status FROM request_usage WHERE admission_id IN ${inList(chunk)}`));
    }
    const balanceRows = await ch.query<{ account_id: string; balance: string }>(
      'SELECT account_id, sum(balance_delta) AS balance FROM ledger_entries WHERE ' + accountFilter + ' GROUP BY account_id',
    );
    return { ledgerEntryIds, usage, balances: new Map(balanceRows.map((r) => [r.account_id, Number(r.balance)])) };
  } finally {
    await ch.close();
  }
}

/** The newest `ledger.balance_changed` per account in the (compacted) balances topic, read to its current end. */
async function readBalanceMessages(env: ReconcileEnv, account: string | undefined): Promise<KafkaSide> {
  const topic = env.RECONCILE_TOPIC_BALANCES;
  const kafka = createKafka({ brokers: kafkaBrokers(env), clientId: 'access-reconcile' });
  const admin = new KafkaAdmin(kafka);
  await admin.connect();
  const groupId = `access-reconcile-${process.pid}-${Date.now()}`;
  const latestBalances = new Map<string, BalanceView>();
  try {
    const [low, high] = await Promise.all([admin.lowWatermarks(topic), admin.highWatermarks(topic)]);
    const pending = new Map([...high].filter(([p, end]) => end > (low.get(p) ?? 0n)));
    if (pending.size === 0) return { latestBalances };
    const consumer = new RawBatchConsumer(kafka, { groupId, topics: [topic], fromBeginning: true, commitOffsets: false, maxWaitMs: 50 });
    let done: () => void = () => undefined;
    const finished = new Promise<void>((resolve) => (done = resolve));
    await consumer.start(async (messages) => {
      for (const message of messages) {
        const end = pending.get(message.partition);
        if (end === undefined || BigInt(message.offset) >= end) continue;
        const decoded = decodeEvent(message, { checkTopic: false });
        if (decoded.ok && decoded.event.type === EVENTS.balanceChanged && (account === undefined || decoded.event.data.accountId === account)) {
          const d = decoded.event.data;
          const known = latestBalances.get(d.accountId);
          if (known === undefined || known.version <= d.version) {
            latestBalances.set(d.accountId, { version: d.version, balanceCredits: d.balanceCredits, heldCredits: d.heldCredits, availableCredits: d.availableCredits });
          }
        }
        if (BigInt(message.offset) + 1n >= end) pending.delete(message.partition);
      }
      if (pending.size === 0) done();
    });
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        finished,
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${topic} not read to its end within ${balancesReadMsMax} ms`)), balancesReadMsMax))),
      ]);
    } finally {
      clearTimeout(timer);
      await consumer.stop();
      await admin.deleteGroups([groupId]).catch(() => undefined);
    }
    return { latestBalances };
  } finally {
    await admin.disconnect();
  }
}

export function registerReconcileCommand(program: Command): void {
  program
    .command('reconcile')
    .description('Compare, per account and in amounts, usage in ClickHouse, settlements in the ledger, balances in Postgres and in access.balances.v1; exit 1 on any difference')
    .requiredOption('--since <time>', 'start of the range (ISO-8601)', time)
    .option('--until <time>', 'end of the range (default: one minute ago, so in-flight events are not counted)', time)
    .option('--account <id>', 'only this account')
    .action(async (options: { since: Date; until?: Date; account?: string }) => {
      const env = loadEnvOrExit(reconcileEnv);
      const until = options.until ?? new Date(Date.now() - 60_000);
      const ledger = await readLedger(env, options.since, until, options.account);
      const clickhouse = await readClickhouse(env, options.since, until, options.account, ledger);
      await readLaterSettlements(env, until, ledger, [...clickhouse.usage.keys()].filter((id) => !ledger.settlements.has(id) && !ledger.released.has(id)));
      const kafka = await readBalanceMessages(env, options.account);
      const found = reconcile(ledger, clickhouse, kafka);
      for (const d of found) process.stdout.write(`${d.kind}: ${describe(d)}\n`);
      process.stderr.write(
        `reconcile ${options.since.toISOString()} .. ${until.toISOString()}: ${ledger.publishedEventIds.size} ledger events, ` +
          `${clickhouse.usage.size} completed requests, ${new Set([...ledger.projectedBalances.keys(), ...clickhouse.balances.keys()]).size} accounts, ` +
          `${kafka.latestBalances.size} balance messages; ${found.length} discrepancies\n`,
      );
      if (found.length > 0) process.exitCode = 1;
    });
}
