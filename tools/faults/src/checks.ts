/**
 * What the fault suite checks after each fault, against the real stores: the load, the admission probe,
 * quiescence, and the audits (ledger verify, reconcile, every event in ClickHouse, no settlement twice).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { EVENTS, parseEventJson } from '@access/contracts';
import { identifier, inList, sql } from '@access/platform-clickhouse';
import { RawBatchConsumer } from '@access/platform-kafka';
import { repoRoot, startService, testName, type Service } from '@access/testing';
import { until, type FaultSystem } from './system';

// ---------------------------------------------------------------------------------------------------------------
// Load

/** The traffic simulator against the run's admission and ledger, with accounts of its own (`runId`). */
export function startTraffic(system: FaultSystem, runId: string, seed: number): Service {
  return startService(
    'tools/traffic-simulator/src/main.ts',
    { ...system.env(), ACCESS_TOKEN: system.token, TRAFFIC_RUN_ID: runId, TRAFFIC_SEED: String(seed), TRAFFIC_RATE_MAX: process.env['FAULTS_TRAFFIC_RATE'] ?? '25', LOG_LEVEL: 'info' },
    0,
    join(system.logDir, 'traffic-simulator.log'),
  );
}

/** Stops the simulator (it cancels what is still running through admission first) and waits for it to exit. */
export async function stopTraffic(traffic: Service): Promise<string> {
  const code = await Promise.race([traffic.kill('SIGTERM'), new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 30_000))]);
  if (code === 'timeout') await traffic.kill('SIGKILL');
  return traffic.output();
}

// ---------------------------------------------------------------------------------------------------------------
// Admission probe

export class AdmissionProbe {
  private n = 0;
  readonly accountId: string;

  constructor(private readonly system: FaultSystem) {
    this.accountId = `probe-${system.id.slice(-8)}`;
  }

  private url(path: string): string {
    return `http://127.0.0.1:${this.system.ports.admission}${path}`;
  }

  private call(url: string, body: unknown): Promise<Response> {
    return fetch(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${this.system.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(2_000),
    });
  }

  /** Opens the probe's account with credits (through the ledger, as a client would). */
  async open(): Promise<void> {
    const ledger = `http://127.0.0.1:${this.system.ports['credit-ledger']}/v1/accounts/${this.accountId}`;
    const headers = { authorization: `Bearer ${this.system.token}`, 'content-type': 'application/json' };
    const put = await fetch(ledger, { method: 'PUT', headers, body: JSON.stringify({ plan: 'enterprise' }) });
    if (![200, 201].includes(put.status)) throw new Error(`opening the probe account: ${put.status} ${await put.text()}`);
    const grant = await fetch(`${ledger}/grants`, { method: 'POST', headers, body: JSON.stringify({ grantId: `${this.accountId}-g`, credits: 1_000_000, source: 'purchase' }) });
    if (![200, 201].includes(grant.status)) throw new Error(`granting the probe account: ${grant.status} ${await grant.text()}`);
    // Until admission has seen the balance, a probe would be refused for credits: wait for a real admit.
    await until('admission admitting the probe account', async () => (await this.once()) === 200, 30_000);
  }

  /**
   * One decision for the probe account: the HTTP status, or 0 when admission did not answer. An admitted probe
   * is completed at once as cancelled with nothing metered, so it leaves no hold behind.
   */
  async once(): Promise<number> {
    this.n += 1;
    const requestId = `${this.accountId}-${this.n}`;
    try {
      const response = await this.call(this.url('/v1/admissions'), {
        requestId,
        accountId: this.accountId,
        userId: 'probe',
        model: 'codex-1',
        endpoint: 'code.complete',
        priority: 'critical',
        estimate: { meters: { input_tokens: 1_000, output_tokens: 1_000 }, dimensions: {} },
      });
      const body = (await response.json().catch(() => ({}))) as { admissionId?: string };
      if (response.status === 200 && body.admissionId !== undefined) {
        const now = new Date().toISOString();
        const done = await this.call(this.url(`/v1/admissions/${body.admissionId}/complete`), {
          admissionId: body.admissionId,
          requestId,
          accountId: this.accountId,
          userId: 'probe',
          model: 'codex-1',
          endpoint: 'code.complete',
          status: 'cancelled',
          meters: { input_tokens: 0, output_tokens: 0 },
          dimensions: {},
          gpuSeconds: 0,
          durationMs: 0,
          startedAt: now,
          endedAt: now,
        });
        if (done.status !== 202) throw new Error(`completing probe ${body.admissionId}: ${done.status} ${await done.text()}`);
      }
      return response.status;
    } catch (error) {
      if (error instanceof Error && error.message.startsWith('completing probe')) throw error;
      return 0;
    }
  }

  /** Milliseconds from `sinceMs` until admission decides again (200, 402 or 429, not 503 or no answer). */
  async recoveredAfter(sinceMs: number, timeoutMs = 60_000): Promise<number> {
    await until('admission deciding again', async () => [200, 402, 429].includes(await this.once()), timeoutMs, 100);
    return Date.now() - sinceMs;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Quiescence and audits

/** Waits until the ledger has applied everything on its input topics and published its outbox. */
export async function ledgerCaughtUp(system: FaultSystem, timeoutMs = 120_000): Promise<void> {
  const db = await system.ledgerDb();
  await until(
    'the ledger applying every decision and completion and draining its outbox',
    async () => {
      for (const topic of [system.topics.admissions, system.topics.usage]) {
        const high = await system.admin.highWatermarks(topic);
        const rows: { partition: number; next_offset: string }[] = await db.query(
          'SELECT partition, next_offset FROM consumer_offsets WHERE group_id = $1 AND topic = $2',
          [system.ledgerGroupId, topic],
        );
        const stored = new Map(rows.map((r) => [Number(r.partition), BigInt(r.next_offset)]));
        for (const [partition, end] of high) if (end > 0n && stored.get(partition) !== end) return false;
      }
      const [{ n }] = (await db.query('SELECT count(*)::int AS n FROM outbox')) as [{ n: number }];
      return n === 0;
    },
    timeoutMs,
    250,
  );
}

/** Every event id on the run's admissions, usage and ledger topics, by topic (read from the beginning to the current end). */
export async function eventIdsOnKafka(system: FaultSystem): Promise<Map<string, Set<string>>> {
  const topics = [system.topics.admissions, system.topics.usage, system.topics.ledger];
  const ids = new Map(topics.map((t) => [t, new Set<string>()]));
  const remaining = new Map<string, bigint>();
  for (const topic of topics) {
    const [low, high] = await Promise.all([system.admin.lowWatermarks(topic), system.admin.highWatermarks(topic)]);
    for (const [partition, end] of high) if (end > (low.get(partition) ?? 0n)) remaining.set(`${topic}:${partition}`, end);
  }
  if (remaining.size === 0) return ids;
  const groupId = testName('faults_read');
  const consumer = new RawBatchConsumer(system.kafka, { groupId, topics, fromBeginning: true, commitOffsets: false, maxWaitMs: 100 });
  let done: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (done = resolve));
  await consumer.start(async (messages, context) => {
    const key = `${context.topic}:${context.partition}`;
    const end = remaining.get(key);
    for (const message of messages) {
      if (end !== undefined && BigInt(message.offset) >= end) break;
      const parsed = message.value === null ? null : parseEventJson(message.value);
      if (parsed?.ok) ids.get(context.topic)!.add(parsed.event.id);
    }
    const last = messages.at(-1);
    if (end !== undefined && last !== undefined && BigInt(last.offset) + 1n >= end) {
      remaining.delete(key);
      if (remaining.size === 0) done();
    }
  });
  await Promise.race([finished, new Promise((_, reject) => setTimeout(() => reject(new Error(`reading the run's topics: ${[...remaining.keys()].join(', ')} not read to their end in 60 s`)), 60_000))]).finally(
    () => consumer.stop(),
  );
  await system.admin.deleteGroups([groupId]).catch(() => undefined);
  return ids;
}

const tableOf = (system: FaultSystem): Record<string, string> => ({
  [system.topics.admissions]: 'admission_decisions',
  [system.topics.usage]: 'request_usage',
  [system.topics.ledger]: 'ledger_entries',
});

/**
 * Waits until every event id on Kafka is in its ClickHouse table; then checks that no row is there twice.
 * Returns the rows per table.
 */
export async function everyEventInClickhouse(system: FaultSystem, onKafka: Map<string, Set<string>>, timeoutMs = 120_000): Promise<Record<string, number>> {
  const ch = system.clickhouse();
  const tables = tableOf(system);
  const counts: Record<string, number> = {};
  let missing = new Map<string, string[]>();
  try {
    await until(
      'every event of the run in ClickHouse',
      async () => {
        missing = new Map();
        for (const [topic, ids] of onKafka) {
          const table = tables[topic]!;
          const present = new Set<string>();
          const all = [...ids];
          for (let i = 0; i < all.length; i += 5_000) {
            const rows = await ch.query<{ event_id: string }>(sql`SELECT event_id FROM ` + identifier(table) + sql` WHERE event_id IN ${inList(all.slice(i, i + 5_000))}`);
            for (const r of rows) present.add(r.event_id);
          }
          const absent = all.filter((id) => !present.has(id));
          if (absent.length > 0) missing.set(table, absent);
        }
        return missing.size === 0;
      },
      timeoutMs,
      500,
    ).catch((error: unknown) => {
      throw new Error(`${error instanceof Error ? error.message : String(error)}: ${[...missing].map(([t, ids]) => `${t} lacks ${ids.length} (e.g. ${ids.slice(0, 3).join(', ')})`).join('; ')}`);
    });
    for (const table of Object.values(tables)) {
      const [row] = await ch.query<{ rows: string; ids: string }>(`SELECT count() AS rows, uniqExact(event_id) AS ids FROM ${identifier(table)}`);
      if (row === undefined || row.rows !== row.ids) throw new Error(`${table} holds ${row?.rows} rows for ${row?.ids} event ids: an event was ingested twice`);
      counts[table] = Number(row.rows);
    }
    return counts;
  } finally {
    await ch.close();
  }
}

/**
 * What the run's dead-letter topic holds: the suite sends no poison, so every dead letter is an event a fault made a
 * service give up on (lost to the stores). Returns `consumer: error` per dead letter (none expected).
 */
export async function deadLetters(system: FaultSystem): Promise<string[]> {
  const topic = system.topics.deadletter;
  const [low, high] = await Promise.all([system.admin.lowWatermarks(topic), system.admin.highWatermarks(topic)]);
  let total = 0n;
  for (const [partition, end] of high) total += end - (low.get(partition) ?? 0n);
  if (total === 0n) return [];
  const letters: string[] = [];
  const groupId = testName('faults_dlq');
  const consumer = new RawBatchConsumer(system.kafka, { groupId, topics: [topic], fromBeginning: true, commitOffsets: false, maxWaitMs: 100 });
  await consumer.start(async (messages) => {
    for (const message of messages) {
      const parsed = message.value === null ? null : parseEventJson(message.value);
      const data = parsed?.ok && parsed.event.type === EVENTS.deadletterRecorded ? parsed.event.data : undefined;
      letters.push(data === undefined ? `unreadable dead letter at offset ${message.offset}` : `${data.consumer}: ${data.topic}@${data.offset}: ${data.error.slice(0, 300)}`);
    }
  });
  await until('reading the dead letters', async () => BigInt(letters.length) >= total, 30_000).finally(() => consumer.stop());
  await system.admin.deleteGroups([groupId]).catch(() => undefined);
  return letters;
}

/** Admissions settled more than once in the ledger (must be none), with their settlement count. */
export async function doubledSettlements(system: FaultSystem): Promise<{ admissionId: string; n: number }[]> {
  const db = await system.ledgerDb();
  return db.query(
    `SELECT data->>'admissionId' AS "admissionId", count(*)::int AS n FROM ledger_events
      WHERE type = 'reservation_settled' GROUP BY 1 HAVING count(*) > 1 LIMIT 20`,
  );
}

/** `access <args>` against the run's stores; its exit code and output. */
export function accessCli(system: FaultSystem, args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'apps', 'cli', 'src', 'main.ts'), ...args], {
      cwd: repoRoot,
      env: { ...process.env, ...system.env(), LEDGER_DB_SCHEMA: 'public', LOG_LEVEL: 'warn' },
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('exit', (code) => resolve({ code, output }));
  });
}
