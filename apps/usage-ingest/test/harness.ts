/**
 * Test and benchmark plumbing for usage-ingest: a fresh ClickHouse database and Kafka topics per run, the sink as a
 * child process (so it can be killed with SIGKILL), publishing, and waiting for the sink to catch up.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { Clickhouse, identifier, migrateClickhouse } from '@access/platform-clickhouse';
import { EventProducer, KafkaAdmin, createKafka, sleep, type Kafka, type OutgoingMessage } from '@access/platform-kafka';
import { testName, type Stack } from '@access/testing';
import type { GeneratedMessage } from './events';

export const repoRoot = join(__dirname, '..', '..', '..');
export const migrationsDir = join(repoRoot, 'infra', 'clickhouse', 'migrations');

export interface IngestRun {
  stack: Stack;
  database: string;
  topics: Record<GeneratedMessage['table'], string>;
  deadLetterTopic: string;
  groupId: string;
  kafka: Kafka;
  admin: KafkaAdmin;
  producer: EventProducer;
  ch: Clickhouse;
  /** The environment a worker of this run needs. */
  workerEnv: Record<string, string>;
  close(): Promise<void>;
}

export async function createRun(stack: Stack, partitions = 8): Promise<IngestRun> {
  const database = testName('ingest');
  await migrateClickhouse({ url: stack.clickhouseUrl, database, dir: migrationsDir });
  const topics = {
    admission_decisions: testName('admissions'),
    request_usage: testName('usage'),
    ledger_entries: testName('ledger'),
  };
  const deadLetterTopic = testName('dlq');
  const kafka = createKafka({ brokers: stack.kafkaBrokers, clientId: 'usage-ingest-test' });
  const admin = new KafkaAdmin(kafka);
  await admin.connect();
  await admin.ensureTopics([...Object.values(topics).map((name) => ({ name, partitions, compacted: false })), { name: deadLetterTopic, partitions: 1, compacted: false }]);
  const producer = new EventProducer(kafka, { lingerMs: 5, batchMessagesMax: 5_000 });
  await producer.connect();
  const ch = new Clickhouse({ url: stack.clickhouseUrl, database });
  const groupId = testName('g');
  return {
    stack, database, topics, deadLetterTopic, groupId, kafka, admin, producer, ch,
    workerEnv: {
      KAFKA_BROKERS: stack.kafkaBrokers.join(','),
      CLICKHOUSE_URL: stack.clickhouseUrl,
      CLICKHOUSE_DATABASE: database,
      USAGE_INGEST_GROUP_ID: groupId,
      USAGE_INGEST_TOPIC_ADMISSIONS: topics.admission_decisions,
      USAGE_INGEST_TOPIC_USAGE: topics.request_usage,
      USAGE_INGEST_TOPIC_LEDGER: topics.ledger_entries,
      USAGE_INGEST_DEADLETTER_TOPIC: deadLetterTopic,
      // Kafka's minimum: a killed worker's partitions are handed to its successor within 6 s.
      USAGE_INGEST_SESSION_TIMEOUT_MS: '6000',
      LOG_LEVEL: 'warn',
    },
    async close() {
      await producer.disconnect();
      await admin.deleteTopics([...Object.values(topics), deadLetterTopic]).catch(() => undefined);
      await admin.disconnect();
      await ch.command(`DROP DATABASE IF EXISTS ${identifier(database)}`).catch(() => undefined);
      await ch.close();
    },
  };
}

export interface Worker {
  process: ChildProcess;
  /** Resolves when the worker's consumers have joined their groups. */
  ready: Promise<void>;
  /** Resolves with the exit code or signal. */
  exited: Promise<string>;
  stderr(): string;
}

export function startWorker(env: Record<string, string>): Worker {
  const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'apps', 'usage-ingest', 'src', 'worker.ts')], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-20_000);
  });
  const exited = new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? String(code))));
  const ready = new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('usage-ingest worker ready')) resolve();
      if (out.length > 100_000) out = out.slice(-1_000);
    });
    void exited.then((how) => reject(new Error(`worker exited (${how}) before it was ready: ${err.slice(-2_000)}`)));
  });
  ready.catch(() => undefined);
  return { process: child, ready, exited, stderr: () => err };
}

export function outgoing(run: IngestRun, messages: readonly GeneratedMessage[]): OutgoingMessage[] {
  return messages.map((m) => ({ topic: run.topics[m.table], key: m.key, value: m.value }));
}

/** Rows in the three tables of record. */
export async function storedRows(ch: Clickhouse, database: string): Promise<number> {
  const db = identifier(database);
  const [row] = await ch.query<{ n: string }>(
    `SELECT (SELECT count() FROM ${db}.admission_decisions) + (SELECT count() FROM ${db}.request_usage) + (SELECT count() FROM ${db}.ledger_entries) AS n`,
  );
  return Number(row?.n ?? 0);
}

/** Waits until every consumer group of the run has committed up to the end of its topic. */
export async function waitCaughtUp(run: IngestRun, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let lag = 0n;
    for (const [table, topic] of Object.entries(run.topics)) {
      const [high, committed] = await Promise.all([run.admin.highWatermarks(topic), run.admin.committedOffsets(`${run.groupId}.${table}`, topic)]);
      for (const [p, end] of high) {
        const done = committed.get(p) ?? -1n;
        lag += end - (done < 0n ? 0n : done);
      }
    }
    if (lag === 0n) return;
    if (Date.now() > deadline) throw new Error(`ingest did not catch up within ${timeoutMs} ms (lag ${lag})`);
    await sleep(250);
  }
}
