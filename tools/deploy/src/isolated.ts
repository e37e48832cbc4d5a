/**
 * The four services started on the shared local stack without touching anyone else's data: topics, consumer groups,
 * the ledger's Postgres schema and the ClickHouse database are all this run's own, the way the fault suite names its
 * system, and `close()` deletes them. Used by the image test and the start-up benchmark.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { TOPICS, topicCatalog } from '@access/contracts';
import { Clickhouse, identifier, migrateClickhouse } from '@access/platform-clickhouse';
import { repoRoot } from '@access/platform-config';
import { KafkaAdmin, createKafka } from '@access/platform-kafka';
import { withClient } from '@access/platform-postgres';
import { testName, type Stack } from '@access/testing';
import { services, type ServiceName } from './targets';

export interface IsolatedSystem {
  /** Every service's environment: the run's topics, groups, schema and database; ports from `ports`. */
  env(ports: Partial<Record<ServiceName, number>>): Record<string, string>;
  close(): Promise<void>;
}

export async function isolatedSystem(stack: Stack): Promise<IsolatedSystem> {
  const id = testName('deploy');
  const topic = (name: string) => `${id}.${name}`;
  const t = {
    admissions: topic(TOPICS.admissions),
    usage: topic(TOPICS.usage),
    ledger: topic(TOPICS.ledger),
    balances: topic(TOPICS.balances),
    limits: topic(TOPICS.limits),
    reputation: topic(TOPICS.reputation),
    load: topic(TOPICS.load),
    deadletter: topic(TOPICS.deadletter),
  };
  const admin = new KafkaAdmin(createKafka({ brokers: stack.kafkaBrokers, clientId: 'deploy-test' }));
  await admin.connect();
  await admin.ensureTopics(
    topicCatalog
      .filter((spec) => Object.values(t).includes(topic(spec.name)))
      .map((spec) => ({ name: topic(spec.name), partitions: spec.partitions, compacted: spec.compacted })),
  );
  const database = id;
  await migrateClickhouse({ url: stack.clickhouseUrl, database, dir: join(repoRoot, 'infra', 'clickhouse', 'migrations') });
  const ledgerSchema = id;

  return {
    env: (ports) => ({
      KAFKA_BROKERS: stack.kafkaBrokers.join(','),
      DATABASE_URL: stack.databaseUrl,
      CLICKHOUSE_URL: stack.clickhouseUrl,
      CLICKHOUSE_DATABASE: database,
      ...Object.fromEntries(services.filter((s) => ports[s.name] !== undefined).map((s) => [s.portVariable, String(ports[s.name])])),
      ADMISSION_TOPIC_ADMISSIONS: t.admissions,
      ADMISSION_TOPIC_USAGE: t.usage,
      ADMISSION_TOPIC_LEDGER: t.ledger,
      ADMISSION_TOPIC_BALANCES: t.balances,
      ADMISSION_TOPIC_LIMITS: t.limits,
      ADMISSION_TOPIC_REPUTATION: t.reputation,
      ADMISSION_TOPIC_DEADLETTER: t.deadletter,
      LEDGER_GROUP_ID: `${id}.credit-ledger`,
      LEDGER_DB_SCHEMA: ledgerSchema,
      LEDGER_TOPIC_ADMISSIONS: t.admissions,
      LEDGER_TOPIC_USAGE: t.usage,
      LEDGER_TOPIC_LEDGER: t.ledger,
      LEDGER_TOPIC_BALANCES: t.balances,
      LEDGER_TOPIC_DEADLETTER: t.deadletter,
      USAGE_INGEST_GROUP_ID: `${id}.usage-ingest`,
      USAGE_INGEST_TOPIC_ADMISSIONS: t.admissions,
      USAGE_INGEST_TOPIC_USAGE: t.usage,
      USAGE_INGEST_TOPIC_LEDGER: t.ledger,
      USAGE_INGEST_DEADLETTER_TOPIC: t.deadletter,
      LOAD_FEEDBACK_TOPIC_LOAD: t.load,
      LOAD_FEEDBACK_TOPIC_ADMISSIONS: t.admissions,
      LOAD_FEEDBACK_TOPIC_LIMITS: t.limits,
      LOAD_FEEDBACK_TOPIC_REPUTATION: t.reputation,
      LOAD_FEEDBACK_TOPIC_DEADLETTER: t.deadletter,
      LOG_LEVEL: 'warn',
    }),
    close: async () => {
      await admin.deleteTopics(Object.values(t)).catch(() => undefined);
      await admin.deleteGroups([`${id}.credit-ledger`]).catch(() => undefined);
      await admin.disconnect();
      const ch = new Clickhouse({ url: stack.clickhouseUrl, database: 'default' });
      await ch.command(`DROP DATABASE IF EXISTS ${identifier(database)}`).catch(() => undefined);
      await ch.close();
      await withClient(stack.databaseUrl, (c) => c.query(`DROP SCHEMA IF EXISTS "${ledgerSchema}" CASCADE`)).catch(() => undefined);
    },
  };
}

export interface Started {
  process: ChildProcess;
  output(): string;
  /** Milliseconds from spawn to the first 200 from /health/live on 127.0.0.1:`port` (or `host`). */
  live: Promise<number>;
  /** SIGTERM (a clean shutdown: consumers leave their groups), SIGKILL after `graceMs`; resolves on exit. */
  stop(graceMs?: number): Promise<void>;
}

/** Output kept for failure messages (the tail). */
const outputCharsMax = 20_000;

/**
 * Spawns `argv` (argv[0] is the executable; `node` means this process's Node, the project's 24) in `cwd` and
 * polls /health/live every 10 ms until it answers, the process exits, or `timeoutMs` passes.
 */
export function startAndProbe(argv: readonly string[], options: { cwd: string; env: Record<string, string>; port: number; host?: string; timeoutMs?: number }): Started {
  const [command, ...args] = argv;
  const t0 = performance.now();
  const child = spawn(command === 'node' ? process.execPath : command!, args, { cwd: options.cwd, env: { ...process.env, ...options.env } });
  let output = '';
  const keep = (d: Buffer) => (output = (output + d.toString()).slice(-outputCharsMax));
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://${options.host ?? '127.0.0.1'}:${options.port}/health/live`;
  const deadline = t0 + (options.timeoutMs ?? 30_000);
  const live = (async () => {
    while (performance.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${argv.join(' ')} exited (${child.exitCode ?? child.signalCode}) before /health/live answered:\n${output}`);
      try {
        const r = await fetch(url, { signal: AbortSignal.timeout(1_000) });
        if (r.status === 200) return performance.now() - t0;
      } catch {
        // Not listening yet.
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`${argv.join(' ')}: ${url} did not answer within ${options.timeoutMs ?? 30_000} ms:\n${output}`);
  })();
  return {
    process: child,
    output: () => output,
    live,
    stop: async (graceMs = 10_000) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
