/**
 * `access ledger verify | rebuild | replay | republish-balances`: the SRE's proof and repair tools for the credit
 * ledger. Each reads the event log (Postgres, DATABASE_URL and LEDGER_DB_SCHEMA); long runs draw a progress bar on
 * stderr.
 */
import { Command, InvalidArgumentError } from 'commander';
import { SingleBar, Presets } from 'cli-progress';
import { z } from 'zod';
import { TOPICS } from '@access/contracts';
import { rebuildProjections, replayLedger, republishBalances, verifyLedger, type Progress } from '@access/credit-ledger-adapters';
import { commonEnvSchema, kafkaBrokers, loadEnvOrExit } from '@access/platform-config';
import { EventProducer, createKafka } from '@access/platform-kafka';
import { createDataSource, type DataSource } from '@access/platform-postgres';

const ledgerCliEnv = commonEnvSchema.extend({
  LEDGER_DB_SCHEMA: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/).default('public'),
  /** The balances topic the ledger publishes to (the service reads the same variable). */
  LEDGER_TOPIC_BALANCES: z.string().regex(/^[A-Za-z0-9._-]{1,249}$/).default(TOPICS.balances),
});

async function withLedgerDb<T>(fn: (db: DataSource, env: z.infer<typeof ledgerCliEnv>) => Promise<T>): Promise<T> {
  const env = loadEnvOrExit(ledgerCliEnv);
  const db = createDataSource({ url: env.DATABASE_URL, schema: env.LEDGER_DB_SCHEMA, poolSizeMax: 2, applicationName: 'access-cli' });
  await db.initialize();
  try {
    return await fn(db, env);
  } finally {
    await db.destroy();
  }
}

/** A progress bar on stderr while `fn` runs (redrawn every 2 s when stderr is not a terminal). */
async function withProgress<T>(label: string, fn: (progress: Progress) => Promise<T>): Promise<T> {
  const bar = new SingleBar(
    { format: `${label} [{bar}] {percentage}% | {value}/{total} | {duration_formatted}`, noTTYOutput: process.env.ACCESS_PROGRESS === '1', hideCursor: true },
    Presets.shades_classic,
  );
  let started = false;
  try {
    return await fn((done, total) => {
      if (!started) {
        bar.start(total, done);
        started = true;
      } else {
        bar.setTotal(total);
        bar.update(done);
      }
    });
  } finally {
    if (started) bar.stop();
  }
}

function instant(value: string): string {
  const ms = Date.parse(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || !Number.isFinite(ms)) throw new InvalidArgumentError('expected an ISO-8601 time, e.g. 2026-11-25T00:00:00Z');
  return new Date(ms).toISOString();
}

function wholeNumber(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number ≥ 0');
  return n;
}

export function registerLedgerCommands(program: Command): void {
  const ledger = program.command('ledger').description('Credit ledger: prove, rebuild and republish from the event log');
  registerVerify(ledger);
  registerRebuild(ledger);
  registerReplay(ledger);
  registerRepublishBalances(ledger);
}

function registerVerify(ledger: Command): void {
  ledger
    .command('verify')
    .description('Recompute every balance from the event log and compare with the projections; exit 1 on any mismatch')
    .option('--account <id>', 'only this account')
    .option('--json', 'print the report as JSON')
    .action(async (options: { account?: string; json?: boolean }) => {
      const report = await withLedgerDb((db) =>
        withProgress('verify', (onProgress) => verifyLedger(db, { ...(options.account ? { accountId: options.account } : {}), onProgress })),
      );
      if (options.json) process.stdout.write(`${JSON.stringify(report)}\n`);
      else {
        for (const account of report.failed) {
          for (const m of account.mismatches) {
            process.stdout.write(`MISMATCH ${account.accountId} ${m.field}: projected ${String(m.projected)}, recomputed ${String(m.recomputed)}\n`);
          }
          for (const p of account.problems) process.stdout.write(`PROBLEM  ${account.accountId} v${p.version} ${p.type}: ${p.message}\n`);
        }
        process.stdout.write(
          `${report.failed.length === 0 ? 'OK' : 'FAILED'}: ${report.accounts} accounts, ${report.events} events, ${report.failed.length} with mismatches\n`,
        );
      }
      if (report.failed.length > 0) process.exitCode = 1;
    });
}

function registerRebuild(ledger: Command): void {
  ledger
    .command('rebuild')
    .description('Rebuild every projection (balances, grants, open reservations) from the event log')
    .action(async () => {
      const result = await withLedgerDb((db) => withProgress('rebuild', (onProgress) => rebuildProjections(db, { onProgress })));
      process.stdout.write(`rebuilt ${result.accounts} accounts from ${result.events} events\n`);
    });
}

function registerReplay(ledger: Command): void {
  ledger
    .command('replay')
    .description('Republish ledger events to Kafka in order, with their original ids')
    .option('--since <time>', 'events that occurred at or after this time', instant)
    .option('--after-version <n>', 'events after this stream version (per account)', wholeNumber)
    .option('--account <id>', 'only this account')
    .option('--topic <name>', 'publish to this topic instead of the ledger topic', TOPICS.ledger)
    .action(async (options: { since?: string; afterVersion?: number; account?: string; topic: string }) => {
      if (options.since === undefined && options.afterVersion === undefined) {
        throw new InvalidArgumentError('give --since TIME or --after-version N');
      }
      const result = await withLedgerDb(async (db, env) => {
        const kafka = createKafka({ brokers: kafkaBrokers(env), clientId: 'access-cli' });
        const producer = new EventProducer(kafka, { lingerMs: 5 });
        await producer.connect();
        try {
          return await withProgress('replay', (onProgress) =>
            replayLedger(db, producer, {
              topic: options.topic,
              onProgress,
              ...(options.since === undefined ? {} : { since: options.since }),
              ...(options.afterVersion === undefined ? {} : { afterVersion: options.afterVersion }),
              ...(options.account === undefined ? {} : { accountId: options.account }),
            }),
          );
        } finally {
          await producer.disconnect();
        }
      });
      process.stdout.write(`republished ${result.published} events to ${options.topic}\n`);
    });
}

function registerRepublishBalances(ledger: Command): void {
  ledger
    .command('republish-balances')
    .description('Publish every balance (recomputed from the event log) again to the compacted balances topic')
    .option('--account <id>', 'only this account')
    .option('--topic <name>', 'the balances topic (default LEDGER_TOPIC_BALANCES, else access.balances.v1)')
    .action(async (options: { account?: string; topic?: string }) => {
      const result = await withLedgerDb(async (db, env) => {
        const topic = options.topic ?? env.LEDGER_TOPIC_BALANCES;
        const kafka = createKafka({ brokers: kafkaBrokers(env), clientId: 'access-cli' });
        const producer = new EventProducer(kafka, { lingerMs: 5 });
        await producer.connect();
        try {
          const published = await withProgress('republish', (onProgress) =>
            republishBalances(db, producer, { topic, onProgress, ...(options.account === undefined ? {} : { accountId: options.account }) }),
          );
          return { ...published, topic };
        } finally {
          await producer.disconnect();
        }
      });
      if (options.account !== undefined && result.published === 0) {
        process.stderr.write(`no events for account ${options.account}\n`);
        process.exitCode = 1;
      }
      process.stdout.write(`republished ${result.published} balance(s) to ${result.topic}\n`);
    });
}
