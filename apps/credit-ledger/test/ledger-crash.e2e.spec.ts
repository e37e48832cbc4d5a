/**
 * The big test: the ledger runs as a real process (apps/credit-ledger/src/main.ts) against its own
 * topics and Postgres schema. More than 10,000 messages (decisions, completions, poison, and duplicates of
 * each: the same event again and the same content under a new id) stream through the real broker while grants
 * and their duplicates arrive over HTTP, and the process is SIGKILLed at random points at least 5 times and
 * restarted. Afterwards:
 * - `access ledger verify` exits 0;
 * - every balance equals the domain's reference model fed the same requests in their canonical order;
 * - duplicates changed nothing: one grant event per grant, at most one resolution per admission;
 * - every ledger event reached access.ledger.v1 and the balances topic holds each account's final balance;
 * - exactly the poison messages are in the dead-letter topic.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLOUDEVENTS_CONTENT_TYPE, toKafkaMessage, type AnyAccessEvent } from '@access/contracts';
import { parsePriceBook } from '@access/catalog';
import { ledgerMigrations } from '@access/credit-ledger-adapters';
import { ReferenceLedger } from '@access/credit-ledger-domain';
import { TokenStore } from '@access/platform-auth';
import { repoRoot } from '@access/platform-config';
import { EventProducer, KafkaAdmin, RawBatchConsumer, createKafka, type Kafka, type OutgoingMessage } from '@access/platform-kafka';
import { createDataSource, dropSchema, migratePostgres, type DataSource } from '@access/platform-postgres';
import { requireStack, testName } from '@access/testing';
import { expectedCommands, planWorkload, seededRandom, type Workload } from './workload';

const tsx = join(repoRoot, 'node_modules', 'tsx', 'dist', 'cli.mjs');
// The ledger runs in ONE process with tsx as a loader: tsx's CLI would run it in a grandchild that a SIGKILL
// of the CLI leaves running.
const inProcessTsx = ['--require', join(repoRoot, 'node_modules/tsx/dist/preflight.cjs'), '--import', pathToFileURL(join(repoRoot, 'node_modules/tsx/dist/loader.mjs')).href];
const seed = Number(process.env.LEDGER_E2E_SEED ?? Date.now() % 1_000_000);
const random = seededRandom(seed);
const kills = 6;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe(`credit-ledger under SIGKILL (seed ${seed})`, () => {
  const schema = testName('ledger_e2e');
  const topics = {
    admissions: testName('adm'),
    usage: testName('usage'),
    ledger: testName('ledger'),
    balances: testName('bal'),
    deadletter: testName('dl'),
  };
  const port = 17_200 + Math.floor(random() * 700);
  // The ledger's own log, kept for post-mortems (tmp/ is git-ignored and absent in a fresh clone).
  const logDir = join(repoRoot, 'tmp');
  mkdirSync(logDir, { recursive: true });
  const logPath = join(logDir, `${schema}.log`);
  let stack: Awaited<ReturnType<typeof requireStack>>;
  let kafka: Kafka;
  let admin: KafkaAdmin;
  let producer: EventProducer;
  let db: DataSource;
  let publicDb: DataSource;
  let token: string;
  let child: ChildProcess | undefined;
  let workload: Workload;
  const poison: OutgoingMessage[] = [];

  let restarts = 0;
  const env = () => ({
    ...process.env,
    KAFKA_BROKERS: stack.kafkaBrokers.join(','),
    DATABASE_URL: stack.databaseUrl,
    LEDGER_PORT: String(port),
    LEDGER_DB_SCHEMA: schema,
    LEDGER_GROUP_ID: `${schema}-group`,
    LEDGER_TOPIC_ADMISSIONS: topics.admissions,
    LEDGER_TOPIC_USAGE: topics.usage,
    LEDGER_TOPIC_LEDGER: topics.ledger,
    LEDGER_TOPIC_BALANCES: topics.balances,
    LEDGER_TOPIC_DEADLETTER: topics.deadletter,
    LEDGER_SESSION_TIMEOUT_MS: '6000',
    LEDGER_BATCH_COMMANDS_MAX: '200',
    TOKEN_REFRESH_MS: '500',
    LOG_LEVEL: 'info',
    // Every other instance does not commit to Kafka at all, so the next one is handed messages Postgres has
    // applied already: only the positions stored in Postgres keep them from being applied twice.
    LEDGER_KAFKA_COMMIT_OFFSETS: restarts % 2 === 1 ? 'false' : 'true',
  });
  const log = () => createWriteStream(logPath, { flags: 'a' });

  function startLedger(): ChildProcess {
    const out = log();
    const started = spawn(process.execPath, [...inProcessTsx, join(repoRoot, 'apps/credit-ledger/src/main.ts')], { cwd: repoRoot, env: env() });
    started.stdout?.pipe(out);
    started.stderr?.pipe(out);
    return started;
  }

  async function ready(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      try {
        if ((await fetch(`http://127.0.0.1:${port}/health/ready`, { signal: AbortSignal.timeout(1_000) })).status === 200) return;
      } catch {
        // not up yet
      }
      await sleep(200);
    }
    throw new Error(`ledger not ready in ${timeoutMs} ms; see ${logPath}`);
  }

  async function killLedger(): Promise<void> {
    const dying = child;
    if (dying === undefined) return;
    const exited = new Promise((r) => dying.once('exit', r));
    dying.kill('SIGKILL');
    await exited;
    child = undefined;
  }

  /** An idempotent HTTP call, retried through kills until the ledger answers. */
  async function http(method: string, path: string, body: unknown): Promise<{ status: number; json: unknown }> {
    for (;;) {
      try {
        const r = await fetch(`http://127.0.0.1:${port}${path}`, {
          method,
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(5_000),
        });
        if (r.status < 500) return { status: r.status, json: await r.json() };
      } catch {
        // killed mid-request: the command is idempotent, ask again
      }
      await sleep(100);
    }
  }

  beforeAll(async () => {
    stack = await requireStack(['kafka', 'postgres']);
    await migratePostgres({ url: stack.databaseUrl, schema, migrations: ledgerMigrations });
    db = createDataSource({ url: stack.databaseUrl, schema });
    await db.initialize();
    publicDb = createDataSource({ url: stack.databaseUrl });
    await publicDb.initialize();
    token = (await new TokenStore(publicDb).create(`e2e-${schema}`, ['ledger:read', 'ledger:write', 'ledger:admin'])).token;
    kafka = createKafka({ brokers: stack.kafkaBrokers, clientId: 'ledger-e2e' });
    admin = new KafkaAdmin(kafka);
    await admin.connect();
    await admin.ensureTopics([
      { name: topics.admissions, partitions: 4, compacted: false },
      { name: topics.usage, partitions: 4, compacted: false },
      { name: topics.ledger, partitions: 4, compacted: false },
      { name: topics.balances, partitions: 4, compacted: true },
      { name: topics.deadletter, partitions: 1, compacted: false },
    ]);
    producer = new EventProducer(kafka, { lingerMs: 5 });
    await producer.connect();
    const priceBook = parsePriceBook(readFileSync(join(repoRoot, 'config', 'price-book.yaml'), 'utf8'));
    if (!priceBook.ok) throw new Error('price book');
    workload = planWorkload({ accounts: 100, requestsPerAccount: 45, seed, priceBook: priceBook.value, nowMs: Date.now() });
  }, 120_000);

  afterAll(async () => {
    await killLedger();
    await producer?.disconnect();
    await admin?.deleteTopics(Object.values(topics)).catch(() => undefined);
    await admin?.disconnect();
    await publicDb?.query('DELETE FROM service_tokens WHERE name = $1', [`e2e-${schema}`]).catch(() => undefined);
    await publicDb?.destroy();
    await db?.destroy();
    if (stack) await dropSchema(stack.databaseUrl, schema);
  }, 120_000);

  it('applies every effect exactly once through SIGKILLs, and verify proves every balance', async () => {
    child = startLedger();
    await ready();
    for (const accountId of workload.accounts) expect([200, 201]).toContain((await http('PUT', `/v1/accounts/${accountId}`, { plan: 'payg' })).status);

    // The stream: each decision, then (later) its completion; 5% of completions overtake their decision;
    // 15% of messages are sent twice as they are, 5% again as a new event with the same content; and a few
    // messages are poison.
    const message = (topic: string, event: AnyAccessEvent): OutgoingMessage => ({ topic, ...toKafkaMessage(event) });
    const stream: OutgoingMessage[] = [];
    const duplicate = (m: OutgoingMessage, event: AnyAccessEvent) => {
      const roll = random();
      if (roll < 0.15) stream.push(m);
      else if (roll < 0.2) stream.push(message(m.topic, { ...event, id: `${event.id.slice(0, -4)}ffff` } as AnyAccessEvent));
    };
    for (const r of workload.requests) {
      const decision = message(topics.admissions, r.decision);
      const completion = message(topics.usage, r.completion);
      const overtakes = random() < 0.05;
      for (const [m, e] of overtakes ? ([[completion, r.completion], [decision, r.decision]] as const) : ([[decision, r.decision], [completion, r.completion]] as const)) {
        stream.push(m);
        duplicate(m, e);
      }
      if (random() < 0.004) {
        const bad: OutgoingMessage =
          random() < 0.5
            ? { topic: topics.usage, key: r.accountId, value: '{"not": "an event"', headers: { 'content-type': CLOUDEVENTS_CONTENT_TYPE } }
            : { ...message(topics.admissions, r.completion) }; // a completion on the decisions topic
        poison.push(bad);
        stream.push(bad);
      }
    }
    expect(stream.length).toBeGreaterThanOrEqual(10_000);

    // Grants over HTTP, each twice, while the stream flows and the ledger dies.
    const grants = (async () => {
      for (const g of workload.grants) {
        const body = { grantId: g.grantId, credits: g.credits, source: g.source, expiresAt: g.expiresAt };
        expect([200, 201]).toContain((await http('POST', `/v1/accounts/${g.accountId}/grants`, body)).status);
        expect((await http('POST', `/v1/accounts/${g.accountId}/grants`, body)).status).toBe(200);
      }
    })();

    let streaming = true;
    const send = (async () => {
      for (let i = 0; i < stream.length; i += 150) {
        await producer.sendMany(stream.slice(i, i + 150));
        await sleep(500);
      }
      streaming = false;
    })();

    let killed = 0;
    let kafkaBehindPostgres = false;
    while (killed < kills) {
      await ready();
      await sleep(300 + random() * 3_000);
      await killLedger();
      killed += 1;
      if (restarts % 2 === 1) {
        // The instance just killed committed nothing to Kafka: Kafka's positions are behind Postgres's now.
        for (const topic of [topics.admissions, topics.usage]) {
          const kafkaOffsets = await admin.committedOffsets(`${schema}-group`, topic);
          const rows: { partition: number; next_offset: string }[] = await db.query('SELECT partition, next_offset FROM consumer_offsets WHERE topic = $1', [topic]);
          for (const r of rows) if ((kafkaOffsets.get(Number(r.partition)) ?? -1n) < BigInt(r.next_offset)) kafkaBehindPostgres = true;
        }
      }
      restarts += 1;
      child = startLedger();
    }
    await Promise.all([send, grants]);
    expect(streaming).toBe(false);
    expect(killed).toBeGreaterThanOrEqual(5);
    await ready();
    // Instances after a commit-less one found Kafka behind Postgres, and resumed from Postgres.
    expect(kafkaBehindPostgres).toBe(true);
    expect(readFileSync(logPath, 'utf8')).toContain('resuming from the offset stored in Postgres');

    // Caught up: the positions stored in Postgres reach the end of both topics, and the outbox is drained.
    const caughtUp = async () => {
      for (const topic of [topics.admissions, topics.usage]) {
        const high = await admin.highWatermarks(topic);
        const rows: { partition: number; next_offset: string }[] = await db.query('SELECT partition, next_offset FROM consumer_offsets WHERE topic = $1', [topic]);
        const stored = new Map(rows.map((r) => [Number(r.partition), BigInt(r.next_offset)]));
        for (const [partition, end] of high) if (end > 0n && stored.get(partition) !== end) return false;
      }
      return (await scalar(db, 'SELECT count(*)::int AS n FROM outbox')) === 0;
    };
    const deadline = Date.now() + 60_000;
    while (!(await caughtUp())) {
      if (Date.now() > deadline) {
        const state = {
          offsets: await db.query('SELECT topic, partition, next_offset FROM consumer_offsets ORDER BY 1, 2'),
          high: Object.fromEntries(await Promise.all([topics.admissions, topics.usage].map(async (t) => [t, [...(await admin.highWatermarks(t))].map(([p, o]) => `${p}:${o}`)]))),
          outbox: await scalar(db, 'SELECT count(*)::int AS n FROM outbox'),
        };
        throw new Error(`the ledger did not catch up (${JSON.stringify(state)}); see ${logPath}`);
      }
      await sleep(250);
    }

    // 1. verify exits 0.
    const verify = spawnSync(process.execPath, [tsx, join(repoRoot, 'apps/cli/src/main.ts'), 'ledger', 'verify'], { cwd: repoRoot, env: env(), encoding: 'utf8' });
    expect(verify.stdout).toMatch(/^OK: 100 accounts/m);
    expect(verify.status).toBe(0);

    // 2. Every balance equals the reference model's.
    const now = new Date().toISOString();
    const references = new Map(workload.accounts.map((a) => [a, new ReferenceLedger()]));
    for (const accountId of workload.accounts) references.get(accountId)!.apply({ type: 'openAccount', data: { plan: 'payg' }, metadata: { now } });
    for (const g of workload.grants) {
      references.get(g.accountId)!.apply({ type: 'grant', data: { grantId: g.grantId, credits: g.credits, source: g.source, expiresAt: g.expiresAt }, metadata: { now } });
    }
    for (const r of workload.requests) {
      for (const command of expectedCommands(r, now)) expect(references.get(r.accountId)!.apply(command).kind).toBe('accepted');
    }
    const balances: { account_id: string; balance_credits: string; held_credits: string; available_credits: string; version: number }[] = await db.query(
      'SELECT account_id, balance_credits, held_credits, available_credits, version FROM account_balances ORDER BY account_id',
    );
    expect(balances).toHaveLength(workload.accounts.length);
    for (const b of balances) {
      const expected = references.get(b.account_id)!.view();
      expect({ account: b.account_id, balance: Number(b.balance_credits), held: Number(b.held_credits), available: Number(b.available_credits) }).toEqual({
        account: b.account_id,
        balance: expected.balanceCredits,
        held: expected.heldCredits,
        available: expected.availableCredits,
      });
    }
    const sample = workload.accounts[0]!;
    const viaHttp = (await (await fetch(`http://127.0.0.1:${port}/v1/accounts/${sample}/balance`, { headers: { authorization: `Bearer ${token}` } })).json()) as { balanceCredits: number };
    expect(viaHttp.balanceCredits).toBe(references.get(sample)!.view().balanceCredits);

    // 3. Duplicates changed nothing: one event per grant, at most one resolution per admission, and exactly one
    // for every request the ledger had to resolve.
    expect(await scalar(db, "SELECT count(*)::int AS n FROM ledger_events WHERE type = 'credits_granted'")).toBe(workload.grants.length);
    const resolutions: { admission: string; n: number }[] = await db.query(
      `SELECT data->>'admissionId' AS admission, count(*)::int AS n FROM ledger_events
        WHERE type IN ('reservation_settled', 'reservation_voided', 'reservation_expired') GROUP BY 1`,
    );
    expect(resolutions.filter((r) => r.n > 1)).toEqual([]);
    const resolved = new Set(resolutions.map((r) => r.admission));
    const mustResolve = workload.requests.filter((r) => r.heldCredits > 0 || r.costCredits > r.allowanceCredits);
    expect(mustResolve.filter((r) => !resolved.has(r.admissionId)).map((r) => r.admissionId)).toEqual([]);
    // Never two holds for one admission.
    expect(await scalar(db, "SELECT count(*)::int - count(DISTINCT data->>'admissionId')::int AS n FROM ledger_events WHERE type = 'credits_reserved'")).toBe(0);

    // 4. Kafka: every contract event of the log is on the ledger topic, and the balances topic ends with each
    // account's final balance.
    const published = await readTopic(kafka, admin, topics.ledger);
    const contractEvents = await scalar(db, "SELECT count(*)::int AS n FROM ledger_events WHERE type NOT IN ('account_opened', 'plan_changed')");
    expect(new Set(published.map((m) => (JSON.parse(m.value) as { id: string }).id)).size).toBe(contractEvents);
    const latest = new Map<string, { version: number; balanceCredits: number; heldCredits: number; availableCredits: number }>();
    for (const m of await readTopic(kafka, admin, topics.balances)) {
      const data = (JSON.parse(m.value) as { data: { version: number; balanceCredits: number; heldCredits: number; availableCredits: number } }).data;
      latest.set(m.key, data);
    }
    for (const b of balances) {
      expect(latest.get(b.account_id)).toMatchObject({
        version: b.version,
        balanceCredits: Number(b.balance_credits),
        heldCredits: Number(b.held_credits),
        availableCredits: Number(b.available_credits),
      });
    }

    // 5. Exactly the poison messages were dead-lettered (each at least once: publishing is at-least-once).
    const letters = await readTopic(kafka, admin, topics.deadletter);
    const letterOffsets = new Set(letters.map((m) => JSON.parse(m.value).data.topic + ':' + JSON.parse(m.value).data.valueBase64));
    const poisonKeys = new Set(poison.map((p) => p.topic + ':' + Buffer.from(p.value).toString('base64')));
    expect(letterOffsets).toEqual(poisonKeys);
  }, 300_000);
});

/** Every message of a topic, from the beginning to the current end. */
async function readTopic(kafka: Kafka, admin: KafkaAdmin, topic: string): Promise<{ key: string; value: string }[]> {
  const end = await admin.highWatermarks(topic);
  const total = [...end.values()].reduce((s, v) => s + v, 0n);
  const out: { key: string; value: string; partition: number; offset: string }[] = [];
  if (total === 0n) return [];
  const reader = new RawBatchConsumer(kafka, { groupId: testName('reader'), topics: [topic], fromBeginning: true, commitOffsets: false });
  const done = new Promise<void>((resolve) => {
    void reader.start(async (messages) => {
      for (const m of messages) out.push({ key: m.key ?? '', value: m.value?.toString('utf8') ?? '', partition: m.partition, offset: m.offset });
      if (BigInt(out.length) >= total) resolve();
    });
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`read only ${out.length} of ${total} messages of ${topic}`)), 60_000);
  });
  try {
    await Promise.race([done, timeout]);
  } finally {
    clearTimeout(timer);
    await reader.stop();
  }
  // Messages arrive partition by partition; per key (= per account) the partition order is the publish order.
  out.sort((a, b) => a.partition - b.partition || (BigInt(a.offset) < BigInt(b.offset) ? -1 : 1));
  return out;
}

async function scalar(db: DataSource, sql: string): Promise<number> {
  const rows: { n: number }[] = await db.query(sql);
  return Number(rows[0]?.n);
}
