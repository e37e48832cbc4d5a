/**
 * credit-ledger's configuration: the common variables (CONTRACTS.md) plus its own, validated at boot (a bad
 * value exits naming the variable). Topic, group and schema names are variables so that tests and benchmarks
 * run the real service against their own topics and Postgres schema.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { TOPICS, topicCatalog } from '@access/contracts';
import { parsePlans, parsePriceBook, type PlansConfig, type PriceBook } from '@access/catalog';
import { validateStoreLimits, type LedgerStoreLimits } from '@access/credit-ledger-adapters';
import { ConfigProblems } from '@access/platform-bootstrap';
import { commonEnvSchema } from '@access/platform-config';

const topicName = z.string().regex(/^[A-Za-z0-9._-]{1,249}$/, 'expected a Kafka topic name');
const optionalInt = z.coerce.number().int().optional();
const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

export const ledgerEnvSchema = commonEnvSchema.extend({
  /** Postgres schema of the ledger's tables (tests and benchmarks use their own). Tokens stay in `public`. */
  LEDGER_DB_SCHEMA: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'expected a lowercase Postgres schema name').default('public'),
  /** Apply the ledger's migrations at boot (idempotent; `npm run infra:up` applies them too). */
  LEDGER_MIGRATE: bool.default(true),
  /** Commit consumed positions to Kafka too (lag monitoring only: the ledger resumes from Postgres). */
  LEDGER_KAFKA_COMMIT_OFFSETS: bool.default(true),
  LEDGER_GROUP_ID: z.string().regex(/^[A-Za-z0-9._-]{1,200}$/).default('credit-ledger'),
  LEDGER_TOPIC_ADMISSIONS: topicName.default(TOPICS.admissions),
  LEDGER_TOPIC_USAGE: topicName.default(TOPICS.usage),
  LEDGER_TOPIC_LEDGER: topicName.default(TOPICS.ledger),
  LEDGER_TOPIC_BALANCES: topicName.default(TOPICS.balances),
  LEDGER_TOPIC_DEADLETTER: topicName.default(TOPICS.deadletter),
  /** Kafka's minimum is 6 s; shorter means a killed instance's partitions move sooner. */
  LEDGER_SESSION_TIMEOUT_MS: z.coerce.number().int().min(6_000).max(300_000).default(30_000),
  /** Kafka partitions the consumer handles at once (their accounts are disjoint, so they commit concurrently). */
  LEDGER_PARTITIONS_CONCURRENTLY: z.coerce.number().int().min(1).max(32).default(2),
  LEDGER_EXPIRY_INTERVAL_MS: z.coerce.number().int().min(100).max(3_600_000).default(5_000),
  LEDGER_PLAN_GRANT_INTERVAL_MS: z.coerce.number().int().min(100).max(86_400_000).default(60_000),
  /** How long the allowance part of a decision is kept for its completion (longer than any reservation). */
  LEDGER_ALLOWANCE_RETENTION_MS: z.coerce.number().int().min(60_000).default(8 * 24 * 3_600_000),
  LEDGER_CACHE_ACCOUNTS_MAX: optionalInt,
  LEDGER_BATCH_COMMANDS_MAX: optionalInt,
  LEDGER_OUTBOX_BATCH_MAX: optionalInt,
  LEDGER_APPEND_RETRIES_MAX: optionalInt,
});
export type LedgerEnv = z.infer<typeof ledgerEnvSchema>;

/** The store limits with the environment's overrides; a bad value is a boot failure naming the limit. */
export function limitsFromEnv(env: LedgerEnv): LedgerStoreLimits {
  const overrides: Partial<Record<keyof LedgerStoreLimits, number>> = {};
  if (env.LEDGER_CACHE_ACCOUNTS_MAX !== undefined) overrides.cachedAccountsMax = env.LEDGER_CACHE_ACCOUNTS_MAX;
  if (env.LEDGER_BATCH_COMMANDS_MAX !== undefined) overrides.batchCommandsMax = env.LEDGER_BATCH_COMMANDS_MAX;
  if (env.LEDGER_OUTBOX_BATCH_MAX !== undefined) overrides.outboxBatchMax = env.LEDGER_OUTBOX_BATCH_MAX;
  if (env.LEDGER_APPEND_RETRIES_MAX !== undefined) overrides.appendRetriesMax = env.LEDGER_APPEND_RETRIES_MAX;
  const result = validateStoreLimits(overrides);
  if (!result.ok) throw new ConfigProblems(result.errors);
  return result.limits;
}

/** plans.yaml and price-book.yaml from ACCESS_CONFIG_DIR; a broken file is a boot failure naming each problem. */
export function loadCatalog(configDir: string): { plans: PlansConfig; priceBook: PriceBook } {
  const read = (file: string) => readFileSync(join(configDir, file), 'utf8');
  const plans = parsePlans(read('plans.yaml'));
  const priceBook = parsePriceBook(read('price-book.yaml'));
  const problems = [
    ...(plans.ok ? [] : plans.errors.map((e) => `plans.yaml ${e.path}: ${e.message}`)),
    ...(priceBook.ok ? [] : priceBook.errors.map((e) => `price-book.yaml ${e.path}: ${e.message}`)),
  ];
  if (!plans.ok || !priceBook.ok) throw new ConfigProblems(problems);
  return { plans: plans.value, priceBook: priceBook.value };
}

/** The topics this instance uses, and their shapes from the catalog (created at boot when missing). */
export function topicsFromEnv(env: LedgerEnv) {
  const names = {
    admissions: env.LEDGER_TOPIC_ADMISSIONS,
    usage: env.LEDGER_TOPIC_USAGE,
    ledger: env.LEDGER_TOPIC_LEDGER,
    balances: env.LEDGER_TOPIC_BALANCES,
    deadletter: env.LEDGER_TOPIC_DEADLETTER,
  };
  const catalogNames: Record<keyof typeof names, string> = {
    admissions: TOPICS.admissions,
    usage: TOPICS.usage,
    ledger: TOPICS.ledger,
    balances: TOPICS.balances,
    deadletter: TOPICS.deadletter,
  };
  const shapes = (Object.keys(names) as (keyof typeof names)[]).map((key) => {
    const spec = topicCatalog.find((t) => t.name === catalogNames[key])!;
    return { name: names[key], partitions: spec.partitions, compacted: spec.compacted };
  });
  return { ...names, shapes };
}
