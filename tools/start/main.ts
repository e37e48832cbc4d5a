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
  const launch = new Launch();
  for (const service of services) launch.watch(service.name, startService(service), true);
  // Created now (no connection yet) so that stop() can always disconnect it; connected by the lag job.
  const lag = new ConsumerLag(new KafkaAdmin(createKafka({ brokers: kafkaBrokers(env), clientId: 'access-start' })));
  launch.onStop(() => lag.close());
  launch.stopOnSignals();

  const pending = await unreadyServices(launch, t0 + 120_000);
  if (pending.size > 0) {
    console.error(`not ready after 120 s: ${[...pending].join(', ')}; logs in ${logDir}`);
    return launch.stop(1);
  }
  const readyAfterMs = Date.now() - t0;
  printWelcome(token, readyAfterMs);
  if (launch.stopping) return;

  const traffic = startSimulators(launch, token);
  const sources = watchSources(launch, token, traffic, lag);
  showSummary(launch, { startedAtMs: t0, readyAfterMs, token }, traffic, sources);
}

/** The processes npm start runs and the timers that watch them, and stopping all of it in order. */
class Launch {
  readonly children = new Map<string, ChildProcess>();
  /** Processes that exited on their own, other than the services (which stop everything). */
  readonly problems: string[] = [];
  readonly timers: NodeJS.Timeout[] = [];
  stopping = false;
  private readonly closers: (() => Promise<void>)[] = [];

  watch(name: string, child: ChildProcess, fatal: boolean): void {
    this.children.set(name, child);
    child.on('exit', (code, signal) => {
      if (this.stopping) return;
      const line = `${name} exited (${signal ?? code}); see ${join(logDir, `${name}.log`)}`;
      if (fatal) {
        console.error(line);
        void this.stop(1);
      } else this.problems.push(line);
    });
  }

  /** Runs after the processes have ended, in the order given. */
  onStop(close: () => Promise<void>): void {
    this.closers.push(close);
  }

  stopOnSignals(): void {
    process.on('SIGINT', () => void this.stop(0));
    process.on('SIGTERM', () => void this.stop(0));
    // Detached children outlive a crash of this process unless told: last resort, no ordering.
    process.on('exit', () => {
      for (const child of this.children.values()) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
  }

  /** Runs `job` now and every `ms`, never two at once, until stop. */
  every(ms: number, job: () => Promise<void>): void {
    let running = false;
    const tick = () => {
      if (running || this.stopping) return;
      running = true;
      void job().finally(() => (running = false));
    };
    this.timers.push(setInterval(tick, ms));
    tick();
  }

  async stop(code: number): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const timer of this.timers) clearInterval(timer);
    console.log('\nstopping the traffic simulator, the fleet simulator and the services …');
    const end = (child: ChildProcess | undefined, graceMs: number) =>
      new Promise<void>((resolve) => {
        if (child === undefined || child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), graceMs).unref();
      });
    // The traffic first: it cancels its running requests through admission, which must still be up.
    await end(this.children.get(trafficSimulator.name), 15_000);
    await end(this.children.get(fleetSimulator.name), 10_000);
    await Promise.all(services.map((s) => end(this.children.get(s.name), 25_000)));
    for (const close of this.closers) await close();
    console.log('stopped (the local stack keeps running; `npm run infra:down` stops it)');
    process.exit(code);
  }
}

/** The summary's consumer lag, through an admin client connected on first use. */
class ConsumerLag {
  private connected = false;

  constructor(private readonly admin: KafkaAdmin) {}

  async read(): Promise<LagRow[]> {
    if (!this.connected) {
      await this.admin.connect();
      this.connected = true;
    }
    return lagOf(this.admin);
  }

  async close(): Promise<void> {
    if (this.connected) await this.admin.disconnect().catch(() => undefined);
  }
}

/** Polls every service's /health/ready until all answer 200, the deadline passes or a stop begins; returns those not ready. */
async function unreadyServices(launch: Launch, deadline: number): Promise<Set<string>> {
  const pending = new Set<string>(services.map((s) => s.name));
  while (pending.size > 0 && Date.now() < deadline && !launch.stopping) {
    for (const service of services) if (pending.has(service.name) && (await ready(service.port))) pending.delete(service.name);
    if (pending.size > 0) await new Promise((r) => setTimeout(r, 500));
  }
  return pending;
}

function printWelcome(token: string, readyAfterMs: number): void {
  console.log(`all services ready in ${(readyAfterMs / 1000).toFixed(1)} s`);
  for (const s of services) console.log(`  ${s.name.padEnd(14)} http://127.0.0.1:${s.port}  (/health/ready, /metrics, /docs)`);
  console.log(`\noperator console: http://127.0.0.1:${consolePort}/  (sign in with the token below)`);
  console.log(`\ndevelopment token (every scope):\n  ${token}\n\nlogs: ${logDir}/<process>.log   Ctrl-C stops everything`);
}

/** What the traffic simulator last reported on its stdout, and the snapshots its rates come from. */
interface TrafficFeed {
  line: TrafficLine | undefined;
  readonly snapshots: Snapshot[];
}

function startSimulators(launch: Launch, token: string): TrafficFeed {
  launch.watch(fleetSimulator.name, startService(fleetSimulator, { FLEET_MODELS: process.env['FLEET_MODELS'] ?? fleetModelsDefault }), false);
  const traffic = startService(trafficSimulator, { ACCESS_TOKEN: token }, ['--json'], true);
  launch.watch(trafficSimulator.name, traffic, false);
  const feed: TrafficFeed = { line: undefined, snapshots: [] };
  if (traffic.stdout) {
    createInterface({ input: traffic.stdout }).on('line', (line) => {
      const parsed = parseTrafficLine(line);
      if (parsed === undefined) return;
      feed.line = parsed;
      pushSnapshot(feed.snapshots, { atMs: parsed.atMs, counts: parsed.stats.counts });
    });
  }
  return feed;
}

/** What the summary shows besides the traffic, each refreshed on its own clock by watchSources. */
interface Sources {
  readonly admissionSnapshots: Snapshot[];
  multipliers: Sample[];
  lag: LagRow[];
  readonly freshnessReadings: HistogramReading[];
  freshness: string;
  readonly balances: Map<string, AccountRow['balance']>;
  /** The last error of each source that is failing, by source name. */
  readonly problems: Map<string, string>;
}

function watchSources(launch: Launch, token: string, traffic: TrafficFeed, consumerLag: ConsumerLag): Sources {
  const sources: Sources = {
    admissionSnapshots: [],
    multipliers: [],
    lag: [],
    freshnessReadings: [],
    freshness: 'measuring…',
    balances: new Map(),
    problems: new Map(),
  };
  // A source that fails shows as a problem line until it next succeeds.
  const guard = (name: string, job: () => Promise<void>) => async () => {
    try {
      await job();
      sources.problems.delete(name);
    } catch (error) {
      sources.problems.set(name, `${name}: ${error instanceof Error ? error.message : String(error)}`);
    }
  };
  launch.every(1_000, guard('admission /metrics', async () => {
    const samples = await metricsOf(env.ADMISSION_PORT);
    const counts: Record<string, number> = {};
    for (const s of samples) if (s.name === 'admission_decisions_total') counts[`${s.labels['decision']}/${s.labels['reason']}`] = s.value;
    pushSnapshot(sources.admissionSnapshots, { atMs: Date.now(), counts });
    const buckets = histogramBuckets(samples, 'admission_balance_freshness_seconds');
    if (buckets === undefined) sources.freshness = 'admission does not expose admission_balance_freshness_seconds';
    else {
      pushReading(sources.freshnessReadings, { atMs: Date.now(), buckets });
      sources.freshness = freshnessLine(sources.freshnessReadings);
    }
  }));
  launch.every(2_000, guard('load-feedback /metrics', async () => {
    sources.multipliers = (await metricsOf(env.LOAD_FEEDBACK_PORT)).filter((s) => s.name === 'load_feedback_multiplier');
  }));
  launch.every(2_000, guard('ledger balances', async () => {
    await Promise.all(
      topAccounts(traffic.line, new Map()).map(async (a) => {
        const response = await fetch(`http://127.0.0.1:${env.LEDGER_PORT}/v1/accounts/${a.accountId}/balance`, {
          headers: { authorization: `Bearer ${token}` },
          signal: AbortSignal.timeout(2_000),
        });
        if (response.status !== 200) return;
        const b = (await response.json()) as { balanceCredits: number; heldCredits: number; availableCredits: number };
        sources.balances.set(a.accountId, { balanceCredits: b.balanceCredits, heldCredits: b.heldCredits, availableCredits: b.availableCredits });
      }),
    );
  }));
  launch.every(2_000, guard('consumer lag', async () => {
    sources.lag = await consumerLag.read();
  }));
  return sources;
}

/** Redraws the summary in place every second on a terminal; otherwise prints a plain line every 10 s. */
function showSummary(launch: Launch, run: { startedAtMs: number; readyAfterMs: number; token: string }, traffic: TrafficFeed, sources: Sources): void {
  const tty = process.stdout.isTTY === true;
  let lastPlainMs = 0;
  const render = () => {
    if (launch.stopping) return;
    const now = Date.now();
    const view = {
      nowMs: now,
      startedAtMs: run.startedAtMs,
      readyAfterMs: run.readyAfterMs,
      traffic: traffic.line,
      trafficRates: ratesOf(traffic.snapshots),
      admissionRates: ratesOf(sources.admissionSnapshots),
      accounts: topAccounts(traffic.line, sources.balances),
      multipliers: sources.multipliers,
      lag: sources.lag,
      freshness: sources.freshness,
      problems: [...launch.problems, ...sources.problems.values()],
    };
    if (tty) {
      const lines = [`token ${run.token}   logs ${logDir}`, ...renderSummary(view, true)];
      // Home, each line cleared to its end, then everything below cleared: a redraw without flicker.
      process.stdout.write(`\u001b[H${lines.map((l) => `${l}\u001b[K`).join('\n')}\n\u001b[J`);
    } else if (now - lastPlainMs >= 10_000) {
      lastPlainMs = now;
      console.log(plainSummary(view));
    }
  };
  if (tty) process.stdout.write('\u001b[2J');
  launch.timers.push(setInterval(render, 1_000));
}

void main();
