/**
 * `npm start`: (after infra:up) ensures a development token, starts the four services and the operator
 * console (apps/console), waits until every /health/ready answers 200, then starts the fleet simulator (a
 * small sora-2 fleet, so that load-feedback has something to shed) and the traffic simulator, and shows a live summary (summary.ts) that refreshes
 * in place every second, or prints a plain line every 10 s when stdout is not a terminal. Ctrl-C stops
 * everything it started: the traffic first (it cancels what is running), then the fleet, then the services.
 * Logs (JSON) go to .local/logs/<process>.log; this terminal shows what matters.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { TOPICS } from '@access/contracts';
import { SCOPES, TokenStore, generateToken } from '@access/platform-auth';
import { commonEnvSchema, kafkaBrokers, loadEnvOrExit } from '@access/platform-config';
import { KafkaAdmin, createKafka } from '@access/platform-kafka';
import { createDataSource } from '@access/platform-postgres';
import { DEMO_FLEET_MODELS } from './demo';
import {
  freshnessLine,
  histogramBuckets,
  parsePrometheus,
  parseTrafficLine,
  plainSummary,
  pushReading,
  pushSnapshot,
  ratesOf,
  renderSummary,
  topAccounts,
  type AccountRow,
  type HistogramReading,
  type LagRow,
  type Sample,
  type Snapshot,
  type TrafficLine,
} from './summary';

const root = join(__dirname, '..', '..');
const logDir = join(root, '.local', 'logs');
const env = loadEnvOrExit(commonEnvSchema);
/** The operator console's port (apps/console validates CONSOLE_PORT itself at boot). */
const consolePort = Number(process.env['CONSOLE_PORT'] ?? 7500);

export const services = [
  { name: 'admission', entry: 'apps/admission/src/main.ts', port: env.ADMISSION_PORT },
  { name: 'credit-ledger', entry: 'apps/credit-ledger/src/main.ts', port: env.LEDGER_PORT },
  { name: 'usage-ingest', entry: 'apps/usage-ingest/src/main.ts', port: env.USAGE_INGEST_PORT },
  { name: 'load-feedback', entry: 'apps/load-feedback/src/main.ts', port: env.LOAD_FEEDBACK_PORT },
  { name: 'console', entry: 'apps/console/src/main.ts', port: consolePort },
] as const;

/** The development token: created once per checkout, kept in .local/dev-token, with every scope. */
async function developmentToken(): Promise<string> {
  const file = join(root, '.local', 'dev-token');
  const token = existsSync(file) ? readFileSync(file, 'utf8').trim() : generateToken();
  const db = createDataSource({ url: env.DATABASE_URL, poolSizeMax: 1, applicationName: 'access-start' });
  await db.initialize();
  try {
    await new TokenStore(db).ensure('development', token, [...SCOPES]);
  } finally {
    await db.destroy();
  }
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return token;
}

async function ready(port: number): Promise<boolean> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/health/ready`, { signal: AbortSignal.timeout(1_000) });
    return response.status === 200;
  } catch {
    return false;
  }
}

export function startService(service: { name: string; entry: string }, extraEnv: Record<string, string> = {}, args: string[] = [], pipeStdout = false): ChildProcess {
  mkdirSync(logDir, { recursive: true });
  const log = openSync(join(logDir, `${service.name}.log`), 'a');
  // tsx as a loader in the child's own process, so that stopping it stops the service itself.
  return spawn(process.execPath, ['--import', 'tsx', join(root, service.entry), ...args], {
    cwd: root,
    stdio: ['ignore', pipeStdout ? 'pipe' : log, log],
    env: { ...process.env, ...extraEnv },
    // Its own process group: Ctrl-C reaches npm start alone, which then stops the children in order (the
    // traffic first, while admission is still up to take its cancellations).
    detached: true,
  });
}

/** The simulators npm start runs next to the services. */
const fleetSimulator = { name: 'fleet-simulator', entry: 'apps/fleet-simulator/src/main.ts' };
const trafficSimulator = { name: 'traffic-simulator', entry: 'tools/traffic-simulator/src/main.ts' };
/** The fleet the demo runs (demo.ts explains its size). */
const fleetModelsDefault = DEMO_FLEET_MODELS;

/** Consumer groups whose lag the summary shows, with the topics each reads (the services' default group ids). */
const lagGroups: { group: string; topics: string[] }[] = [
  { group: process.env['LEDGER_GROUP_ID'] ?? 'credit-ledger', topics: [TOPICS.admissions, TOPICS.usage] },
  { group: `${process.env['USAGE_INGEST_GROUP_ID'] ?? 'usage-ingest'}.admission_decisions`, topics: [TOPICS.admissions] },
  { group: `${process.env['USAGE_INGEST_GROUP_ID'] ?? 'usage-ingest'}.request_usage`, topics: [TOPICS.usage] },
  { group: `${process.env['USAGE_INGEST_GROUP_ID'] ?? 'usage-ingest'}.ledger_entries`, topics: [TOPICS.ledger] },
];

async function metricsOf(port: number): Promise<Sample[]> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(2_000) });
  return parsePrometheus(await response.text());
}

async function lagOf(admin: KafkaAdmin): Promise<LagRow[]> {
  const rows: LagRow[] = [];
  const high = new Map<string, Map<number, bigint>>();
  const low = new Map<string, Map<number, bigint>>();
  for (const topic of new Set(lagGroups.flatMap((g) => g.topics))) {
    high.set(topic, await admin.highWatermarks(topic));
    low.set(topic, await admin.lowWatermarks(topic));
  }
  for (const { group, topics } of lagGroups) {
    for (const topic of topics) {
      const committed = await admin.committedOffsets(group, topic);
      let lag = 0n;
      let anyCommit = false;
      for (const [partition, end] of high.get(topic) ?? new Map<number, bigint>()) {
        const offset = committed.get(partition) ?? -1n;
        // A partition with no commit yet has everything still in the log left to read.
        const from = offset >= 0n ? offset : (low.get(topic)?.get(partition) ?? 0n);
        if (offset >= 0n) anyCommit = true;
        if (end > from) lag += end - from;
      }
      rows.push({ group, topic, lag: anyCommit ? Number(lag) : null });
    }
  }
  return rows;
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const token = await developmentToken();
  const children = new Map<string, ChildProcess>();
  const tty = process.stdout.isTTY === true;
  let stopping = false;
  const problems: string[] = [];
  const watch = (name: string, child: ChildProcess, fatal: boolean) => {
    children.set(name, child);
    child.on('exit', (code, signal) => {
      if (stopping) return;
      const line = `${name} exited (${signal ?? code}); see ${join(logDir, `${name}.log`)}`;
      if (fatal) {
        console.error(line);
        void stop(1);
      } else problems.push(line);
    });
  };
  for (const service of services) watch(service.name, startService(service), true);

  const timers: NodeJS.Timeout[] = [];
  // Created now (no connection yet) so that stop() can always disconnect it; connected by the lag job.
  const admin = new KafkaAdmin(createKafka({ brokers: kafkaBrokers(env), clientId: 'access-start' }));
  let adminConnected = false;
  async function stop(code: number): Promise<void> {
    if (stopping) return;
    stopping = true;
    for (const timer of timers) clearInterval(timer);
    console.log('\nstopping the traffic simulator, the fleet simulator and the services …');
    const end = (child: ChildProcess | undefined, graceMs: number) =>
      new Promise<void>((resolve) => {
        if (child === undefined || child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), graceMs).unref();
      });
    // The traffic first: it cancels its running requests through admission, which must still be up.
    await end(children.get(trafficSimulator.name), 15_000);
    await end(children.get(fleetSimulator.name), 10_000);
    await Promise.all(services.map((s) => end(children.get(s.name), 25_000)));
    if (adminConnected) await admin.disconnect().catch(() => undefined);
    console.log('stopped (the local stack keeps running; `npm run infra:down` stops it)');
    process.exit(code);
  }
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  // Detached children outlive a crash of this process unless told: last resort, no ordering.
  process.on('exit', () => {
    for (const child of children.values()) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  const deadline = t0 + 120_000;
  const pending = new Set<string>(services.map((s) => s.name));
  while (pending.size > 0 && Date.now() < deadline && !stopping) {
    for (const service of services) if (pending.has(service.name) && (await ready(service.port))) pending.delete(service.name);
    if (pending.size > 0) await new Promise((r) => setTimeout(r, 500));
  }
  if (pending.size > 0) {
    console.error(`not ready after 120 s: ${[...pending].join(', ')}; logs in ${logDir}`);
    return stop(1);
  }
  const readyAfterMs = Date.now() - t0;
  console.log(`all services ready in ${(readyAfterMs / 1000).toFixed(1)} s`);
  for (const s of services) console.log(`  ${s.name.padEnd(14)} http://127.0.0.1:${s.port}  (/health/ready, /metrics, /docs)`);
  console.log(`\noperator console: http://127.0.0.1:${consolePort}/  (sign in with the token below)`);
  console.log(`\ndevelopment token (every scope):\n  ${token}\n\nlogs: ${logDir}/<process>.log   Ctrl-C stops everything`);
  if (stopping) return;

  watch(fleetSimulator.name, startService(fleetSimulator, { FLEET_MODELS: process.env['FLEET_MODELS'] ?? fleetModelsDefault }), false);
  const traffic = startService(trafficSimulator, { ACCESS_TOKEN: token }, ['--json'], true);
  watch(trafficSimulator.name, traffic, false);
  let trafficLine: TrafficLine | undefined;
  const trafficSnapshots: Snapshot[] = [];
  if (traffic.stdout) {
    createInterface({ input: traffic.stdout }).on('line', (line) => {
      const parsed = parseTrafficLine(line);
      if (parsed === undefined) return;
      trafficLine = parsed;
      pushSnapshot(trafficSnapshots, { atMs: parsed.atMs, counts: parsed.stats.counts });
    });
  }

  // What the summary shows, each refreshed on its own clock; a source that fails shows as a problem line.
  const admissionSnapshots: Snapshot[] = [];
  let multipliers: Sample[] = [];
  let lag: LagRow[] = [];
  const freshnessReadings: HistogramReading[] = [];
  let freshness = 'measuring…';
  const balances = new Map<string, AccountRow['balance']>();
  const sourceProblems = new Map<string, string>();
  const guard = (name: string, job: () => Promise<void>) => async () => {
    try {
      await job();
      sourceProblems.delete(name);
    } catch (error) {
      sourceProblems.set(name, `${name}: ${error instanceof Error ? error.message : String(error)}`);
    }
  };
  const every = (ms: number, job: () => Promise<void>) => {
    let running = false;
    const tick = () => {
      if (running || stopping) return;
      running = true;
      void job().finally(() => (running = false));
    };
    timers.push(setInterval(tick, ms));
    tick();
  };
  every(1_000, guard('admission /metrics', async () => {
    const samples = await metricsOf(env.ADMISSION_PORT);
    const counts: Record<string, number> = {};
    for (const s of samples) if (s.name === 'admission_decisions_total') counts[`${s.labels['decision']}/${s.labels['reason']}`] = s.value;
    pushSnapshot(admissionSnapshots, { atMs: Date.now(), counts });
    const buckets = histogramBuckets(samples, 'admission_balance_freshness_seconds');
    if (buckets === undefined) freshness = 'admission does not expose admission_balance_freshness_seconds';
    else {
      pushReading(freshnessReadings, { atMs: Date.now(), buckets });
      freshness = freshnessLine(freshnessReadings);
    }
  }));
  every(2_000, guard('load-feedback /metrics', async () => {
    multipliers = (await metricsOf(env.LOAD_FEEDBACK_PORT)).filter((s) => s.name === 'load_feedback_multiplier');
  }));
  every(2_000, guard('ledger balances', async () => {
    await Promise.all(
      topAccounts(trafficLine, new Map()).map(async (a) => {
        const response = await fetch(`http://127.0.0.1:${env.LEDGER_PORT}/v1/accounts/${a.accountId}/balance`, {
          headers: { authorization: `Bearer ${token}` },
          signal: AbortSignal.timeout(2_000),
        });
        if (response.status !== 200) return;
        const b = (await response.json()) as { balanceCredits: number; heldCredits: number; availableCredits: number };
        balances.set(a.accountId, { balanceCredits: b.balanceCredits, heldCredits: b.heldCredits, availableCredits: b.availableCredits });
      }),
    );
  }));
  every(2_000, guard('consumer lag', async () => {
    if (!adminConnected) {
      await admin.connect();
      adminConnected = true;
    }
    lag = await lagOf(admin);
  }));

  let lastPlainMs = 0;
  const render = () => {
    if (stopping) return;
    const now = Date.now();
    const view = {
      nowMs: now,
      startedAtMs: t0,
      readyAfterMs,
      traffic: trafficLine,
      trafficRates: ratesOf(trafficSnapshots),
      admissionRates: ratesOf(admissionSnapshots),
      accounts: topAccounts(trafficLine, balances),
      multipliers,
      lag,
      freshness,
      problems: [...problems, ...sourceProblems.values()],
    };
    if (tty) {
      const lines = [`token ${token}   logs ${logDir}`, ...renderSummary(view, true)];
      // Home, each line cleared to its end, then everything below cleared: a redraw without flicker.
      process.stdout.write(`\u001b[H${lines.map((l) => `${l}\u001b[K`).join('\n')}\n\u001b[J`);
    } else if (now - lastPlainMs >= 10_000) {
      lastPlainMs = now;
      console.log(plainSummary(view));
    }
  };
  if (tty) process.stdout.write('\u001b[2J');
  timers.push(setInterval(render, 1_000));
}

void main();
