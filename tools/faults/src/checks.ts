/**
 * What the fault suite checks after each fault, against the real stores: the load, the admission probe,
 * quiescence, and the audits (ledger verify, reconcile, every event in ClickHouse, no settlement twice).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { EVENTS, parseEventJson } from '@access/contracts';
import { identifier, inList, sql } from '@access/platform-clickhouse';
import { DECIDED_BY_HEADER, OWNER_GENERATION_HEADER } from '@access/admission-adapters';
import { admissionLimits, gcra } from '@access/admission-domain';
import { RawBatchConsumer } from '@access/platform-kafka';
import { repoRoot, startService, testName, type Service } from '@access/testing';
import { admissionInstances, until, type FaultSystem, type InstanceName } from './system';

// ---------------------------------------------------------------------------------------------------------------
// Load

/** The traffic simulator against the run's admission and ledger, with accounts of its own (`runId`). */
/**
 * One traffic simulator per admission replica, each with its share of the rate and accounts of its own, so that load
 * arrives at every replica (and each forwards what it does not own).
 */
export function startTraffic(system: FaultSystem, runId: string, seed: number): Service[] {
  const rate = Number(process.env['FAULTS_TRAFFIC_RATE'] ?? '25');
  return admissionInstances.map((name, i) =>
    startService(
      'tools/traffic-simulator/src/main.ts',
      {
        ...system.env(),
        ADMISSION_PORT: String(system.ports[name]),
        ACCESS_TOKEN: system.token,
        TRAFFIC_RUN_ID: `${runId}r${i}`,
        TRAFFIC_SEED: String(seed * 10 + i),
        TRAFFIC_RATE_MAX: String(Math.max(1, Math.round(rate / admissionInstances.length))),
        LOG_LEVEL: 'info',
      },
      0,
      join(system.logDir, `traffic-simulator-${i}.log`),
    ),
  );
}

/** Stops the simulators (each cancels what is still running through admission first) and waits for them to exit. */
export async function stopTraffic(traffic: Service[]): Promise<string> {
  const outputs = await Promise.all(
    traffic.map(async (t) => {
      const code = await Promise.race([t.kill('SIGTERM'), new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 30_000))]);
      if (code === 'timeout') await t.kill('SIGKILL');
      return t.output();
    }),
  );
  return outputs.join('\n');
}

// ---------------------------------------------------------------------------------------------------------------
// Admission probe

/** What a burst of one free-plan user came to (AdmissionProbe.burst). */
export interface Burst {
  /** The user the counted burst was sent as (exactBurst may send more than one). */
  userId: string;
  admitted: number;
  rejected: number;
  other: string[];
  limits: number[];
}

interface BurstAnswer {
  admissionId?: string;
  reason?: string;
  type?: string;
  detail?: string;
  limits?: { name: string; limit: number }[];
}

function describeAnswer(response: Response, body: BurstAnswer): string {
  const what = body.reason ?? body.type ?? '';
  return `${response.status} ${what}${body.detail ? ` (${body.detail})` : ''}, replica ${response.headers.get(DECIDED_BY_HEADER) ?? '?'}`;
}

export class AdmissionProbe {
  private n = 0;
  readonly accountId: string;
  /** A free-plan account (10 requests per minute per user) for the exactness bursts. */
  readonly freeAccountId: string;
  /** Replicas the probe may call (a paused or killed one is taken out by the phase that stops it). */
  via: InstanceName[] = [...admissionInstances];
  /** The replica that decided the last probe (the `access-replica` header). */
  lastDecidedBy = '';

  constructor(private readonly system: FaultSystem) {
    this.accountId = `probe-${system.id.slice(-8)}`;
    this.freeAccountId = `free-${system.id.slice(-8)}`;
  }

  private url(path: string): string {
    const name = this.via[this.n % this.via.length] as InstanceName;
    return `http://127.0.0.1:${this.system.ports[name]}${path}`;
  }

  private call(url: string, body: unknown): Promise<Response> {
    return fetch(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${this.system.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(5_000),
    });
  }

  /**
   * A call as a client following the contract (and @access/client) makes it: a 503 (a partition changing hands, Kafka
   * unavailable) is retried with the same body, after its Retry-After (at most 1 s), through the next replica, for up
   * to 30 s; so is a call that got no answer in time (the decision may have been made: the same requestId gets it).
   */
  private async callUntilDecided(path: string, body: unknown): Promise<Response> {
    const t0 = Date.now();
    for (;;) {
      const response = await this.call(this.url(path), body).catch((error: unknown) => {
        if (Date.now() - t0 > 30_000) throw error;
        return null;
      });
      if (response !== null && (response.status !== 503 || Date.now() - t0 > 30_000)) return response;
      await response?.body?.cancel();
      this.n += 1;
      await new Promise((r) => setTimeout(r, Math.min(1_000, 1_000 * Number(response?.headers.get('retry-after') ?? 1))));
    }
  }

  /** Opens the probe's account with credits (through the ledger, as a client would). */
  async open(): Promise<void> {
    const ledger = `http://127.0.0.1:${this.system.ports['credit-ledger']}/v1/accounts/${this.accountId}`;
    const headers = { authorization: `Bearer ${this.system.token}`, 'content-type': 'application/json' };
    const put = await fetch(ledger, { method: 'PUT', headers, body: JSON.stringify({ plan: 'enterprise' }) });
    if (![200, 201].includes(put.status)) throw new Error(`opening the probe account: ${put.status} ${await put.text()}`);
    const grant = await fetch(`${ledger}/grants`, { method: 'POST', headers, body: JSON.stringify({ grantId: `${this.accountId}-g`, credits: 1_000_000, source: 'purchase' }) });
    if (![200, 201].includes(grant.status)) throw new Error(`granting the probe account: ${grant.status} ${await grant.text()}`);
    const free = await fetch(`http://127.0.0.1:${this.system.ports['credit-ledger']}/v1/accounts/${this.freeAccountId}`, { method: 'PUT', headers, body: JSON.stringify({ plan: 'free' }) });
    if (![200, 201].includes(free.status)) throw new Error(`opening the free probe account: ${free.status} ${await free.text()}`);
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
      this.lastDecidedBy = response.headers.get(DECIDED_BY_HEADER) ?? '';
      if (response.status === 200 && body.admissionId !== undefined) {
        const now = new Date().toISOString();
        const done = await this.callUntilDecided(`/v1/admissions/${body.admissionId}/complete`, {
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

  /** The admission instance that owns the probe account now (the replica that decides its requests). */
  async owner(): Promise<{ name: InstanceName; replica: string }> {
    await until('a probe decided', async () => [200, 402, 429].includes(await this.once()), 30_000, 100);
    const replica = this.lastDecidedBy;
    const name = admissionInstances.find((i) => replica.includes(`-${String(this.system.pidOf(i))}-`));
    if (name === undefined) throw new Error(`no running admission instance is replica ${replica}`);
    return { name, replica };
  }

  /** Milliseconds from `sinceMs` until a replica other than `replica` decides a probe. */
  async takenOverAfter(sinceMs: number, replica: string, timeoutMs = 30_000): Promise<number> {
    await until('another replica deciding for the probe account', async () => [200, 402, 429].includes(await this.once()) && this.lastDecidedBy !== replica, timeoutMs, 25);
    return Date.now() - sinceMs;
  }

  /**
   * Exactness across replicas: 14 requests of one new user of the free plan (10 per minute) sent round-robin over the
   * replicas in reach, each admitted one completed at once. Returns how many were admitted and rejected for the rate
   * (one instance: the effective limit), the effective `user.requests_per_minute` limit each decision reported (load
   * feedback may move it between two decisions), and every other answer described (status, problem or reason, replica).
   */
  async burst(userId: string): Promise<Burst> {
    const result: Burst = { userId, admitted: 0, rejected: 0, other: [], limits: [] };
    for (let i = 0; i < 14; i++) {
      this.n += 1;
      const requestId = `${userId}-${this.n}`;
      const via = this.via[this.n % this.via.length] as InstanceName;
      const request = { requestId, accountId: this.freeAccountId, userId, model: 'codex-1', endpoint: 'code.complete', priority: 'standard', estimate: { meters: { input_tokens: 0, output_tokens: 0 }, dimensions: {} } };
      const response = await this.callUntilDecided('/v1/admissions', request).catch((error: unknown) => error as Error);
      if (response instanceof Error) {
        result.other.push(`decide via ${via}: no answer (${response.message})`);
        continue;
      }
      const body = (await response.json().catch(() => ({}))) as BurstAnswer;
      const limit = body.limits?.find((l) => l.name === 'user.requests_per_minute')?.limit;
      if (limit !== undefined) result.limits.push(limit);
      if (response.status === 200 && body.admissionId !== undefined) {
        result.admitted++;
        const now = new Date().toISOString();
        this.n += 1;
        const completeVia = this.via[this.n % this.via.length] as InstanceName;
        const done = await this.callUntilDecided(`/v1/admissions/${body.admissionId}/complete`, {
          admissionId: body.admissionId, requestId, accountId: this.freeAccountId, userId, model: 'codex-1', endpoint: 'code.complete',
          status: 'succeeded', meters: { input_tokens: 0, output_tokens: 0 }, dimensions: {}, gpuSeconds: 0, durationMs: 0, startedAt: now, endedAt: now,
        });
        if (done.status !== 202) result.other.push(`complete via ${completeVia}: ${describeAnswer(done, (await done.json().catch(() => ({}))) as BurstAnswer)}`);
      } else if (response.status === 429 && body.reason === 'rate_limited') result.rejected++;
      else result.other.push(`decide via ${via}: ${describeAnswer(response, body)}`);
    }
    return result;
  }

  /** Milliseconds from `sinceMs` until admission decides again (200, 402 or 429, not 503 or no answer). */
  async recoveredAfter(sinceMs: number, timeoutMs = 60_000): Promise<number> {
    await until('admission deciding again', async () => [200, 402, 429].includes(await this.once()), timeoutMs, 100);
    return Date.now() - sinceMs;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Quiescence and audits

/**
 * Waits until the ledger has applied everything on its input topics (its stored positions reach each partition's last
 * committed message, `dataEnds` from readRunTopics) and published its outbox.
 */
export async function ledgerCaughtUp(system: FaultSystem, dataEnds: Map<string, bigint>, timeoutMs = 120_000): Promise<void> {
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
        for (const [partition] of high) {
          const end = dataEnds.get(`${topic}:${partition}`) ?? 0n;
          if (end > 0n && (stored.get(partition) ?? 0n) < end) return false;
        }
      }
      const [{ n }] = (await db.query('SELECT count(*)::int AS n FROM outbox')) as [{ n: number }];
      return n === 0;
    },
    timeoutMs,
    250,
  );
}

/** What the run's input topics hold, read to their end (traffic stopped). */
export interface RunTopics {
  /** topic → event ids. */
  readonly ids: Map<string, Set<string>>;
  /**
   * topic:partition → one past the last committed message. Decisions are written in transactions, whose commit markers
   * take offsets of their own: a consumer that has applied everything stores this offset, not the high watermark.
   */
  readonly dataEnds: Map<string, bigint>;
  /**
   * Every committed decision in the order of its partition: the replica that published it (access-replica header), its
   * owner generation, when, for whom, and whether it admitted.
   */
  readonly decisions: { replica: string; generation: number; decidedAtMs: number; accountId: string; userId: string; admitted: boolean }[];
}

/**
 * What one instance answers a user's requests (one unit each) at these decision times, under `limit` requests per
 * period: the domain's own GCRA, which refills one request every period/limit ms. A burst that outlasts that interval
 * (a loaded machine answers slowly) is rightly admitted more than `limit` times.
 */
export function oneInstanceAdmits(decidedAtMs: readonly number[], limit: number, periodMs = admissionLimits.ratePeriodMs): boolean[] {
  let cell: gcra.GcraCell = gcra.EMPTY_CELL;
  return decidedAtMs.map((nowMs) => {
    const result = gcra.check(cell, nowMs, 1, limit, periodMs);
    cell = { atMs: result.atMs, debt: result.debt };
    return result.allowed;
  });
}

/** Reads the run's admissions, usage and ledger topics to their high watermarks, committed messages only. */
export async function readRunTopics(system: FaultSystem): Promise<RunTopics> {
  const topics = [system.topics.admissions, system.topics.usage, system.topics.ledger];
  const ids = new Map(topics.map((t) => [t, new Set<string>()]));
  const dataEnds = new Map<string, bigint>();
  const decisions: RunTopics['decisions'] = [];
  const remaining = new Map<string, bigint>();
  for (const topic of topics) {
    const [low, high] = await Promise.all([system.admin.lowWatermarks(topic), system.admin.highWatermarks(topic)]);
    for (const [partition, end] of high) if (end > (low.get(partition) ?? 0n)) remaining.set(`${topic}:${partition}`, end);
  }
  if (remaining.size === 0) return { ids, dataEnds, decisions };
  let done: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const groupId = testName('faults_read');
  const consumer = new RawBatchConsumer(system.kafka, {
    groupId,
    topics,
    fromBeginning: true,
    commitOffsets: false,
    maxWaitMs: 100,
    // Positions count transaction markers, which no handler sees: the end of a partition is reached by position.
    onPosition: (topic, partition, next) => {
      const key = `${topic}:${partition}`;
      const end = remaining.get(key);
      if (end !== undefined && next >= end) {
        remaining.delete(key);
        if (remaining.size === 0) done();
      }
    },
  });
  await consumer.start(async (messages, context) => {
    const key = `${context.topic}:${context.partition}`;
    for (const message of messages) {
      dataEnds.set(key, BigInt(message.offset) + 1n);
      const parsed = message.value === null ? null : parseEventJson(message.value);
      if (!parsed?.ok) continue;
      // A completed request is one row of request_usage, whatever its completions' event ids (CONTRACTS.md, Additions
      // 2026-12): completions are counted by admission, every other event by its id.
      ids.get(context.topic)!.add(parsed.event.type === EVENTS.usageRequestCompleted ? parsed.event.data.admissionId : parsed.event.id);
      if (parsed.event.type === EVENTS.admissionDecided) {
        const data = parsed.event.data;
        decisions.push({
          replica: message.headers[DECIDED_BY_HEADER] ?? '',
          generation: Number(message.headers[OWNER_GENERATION_HEADER] ?? -1),
          decidedAtMs: Date.parse(data.decidedAt),
          accountId: data.accountId,
          userId: data.userId,
          admitted: data.decision === 'admitted',
        });
      }
    }
  });
  await Promise.race([finished, new Promise((_, reject) => setTimeout(() => reject(new Error(`reading the run's topics: ${[...remaining.keys()].join(', ')} not read to their end in 60 s`)), 60_000))]).finally(
    () => consumer.stop(),
  );
  await system.admin.deleteGroups([groupId]).catch(() => undefined);
  return { ids, dataEnds, decisions };
}

const tableOf = (system: FaultSystem): Record<string, string> => ({
  [system.topics.admissions]: 'admission_decisions',
  [system.topics.usage]: 'request_usage',
  [system.topics.ledger]: 'ledger_entries',
});

/** What identifies one row: a completed request (admission) in request_usage, the event elsewhere. */
const keyColumnOf = (table: string): string => (table === 'request_usage' ? 'admission_id' : 'event_id');

/**
 * Waits until every event on Kafka (every completed request, for request_usage) is in its ClickHouse table; then
 * checks that no row is there twice. Returns the rows per table.
 */
export async function everyEventInClickhouse(system: FaultSystem, onKafka: ReadonlyMap<string, Set<string>>, timeoutMs = 120_000): Promise<Record<string, number>> {
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
            const column = identifier(keyColumnOf(table));
            const rows = await ch.query<{ id: string }>(sql`SELECT ` + column + sql` AS id FROM ` + identifier(table) + sql` WHERE ` + column + sql` IN ${inList(all.slice(i, i + 5_000))}`);
            for (const r of rows) present.add(r.id);
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
      const [row] = await ch.query<{ rows: string; ids: string }>(`SELECT count() AS rows, uniqExact(${identifier(keyColumnOf(table))}) AS ids FROM ${identifier(table)}`);
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
      env: { ...process.env, ...system.env(), RECONCILE_TOPIC_BALANCES: system.topics.balances, LEDGER_DB_SCHEMA: 'public', LOG_LEVEL: 'warn' },
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    // 'close', not 'exit': the output streams may still hold what the process printed last.
    child.on('close', (code) => resolve({ code, output }));
  });
}
