/**
 * bench/admission (d): admission as 1, 2 and 3 replicas on this machine (issue 11; CONTRACTS.md, "Admission replicas").
 *
 * For each replica count: a fresh run (topics of its own, so the replica group and every replica's state start empty),
 * the 1,000 enterprise accounts × 10 users of (b), and N admission processes in one replica group. Before measuring,
 * the group must have settled: every partition of the admissions topic owned, each replica owning some, for several
 * polls of /metrics in a row. autocannon spreads its keep-alive connections round-robin over the replicas (connection
 * i goes to replica i mod N), so each replica receives the same number of connections, and each request goes to the
 * replica its connection reached, whatever its account. Measured, as in (b) and (c):
 * - throughput: requests answered per second with `connections` connections, alternating with the bare Fastify route
 *   of (b) (one process) in the same run as the baseline;
 * - latency at half of that replica count's median throughput;
 * - the share of forwarded requests: an answer was forwarded when its access-replica header (the replica that decided)
 *   names another replica than the one the request was sent to; cross-checked with admission_forwards_total.
 * Also the CPU of the machine, of the replicas together and of this process (autocannon) at the maximum rate, and
 * whether any partition changed hands during the measurement (admission_partition_takeover_seconds_count), in which
 * case the figures include a rebalance and say so.
 */
import { cpus, loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import autocannon, { type Result } from 'autocannon';
import { DECIDED_BY_HEADER } from '@access/admission-adapters';
import { freePort, type Service, type Stack } from '@access/testing';
import { createRun, startAdmission, waitReady, type AdmissionRun } from '../../apps/admission/test/harness';
import { parsePrometheus, type Sample } from '../../tools/start/summary';
import { cpuSeconds, machine, median } from '../report';
import { ACCOUNTS, nextBody } from './requests';

export interface ReplicaOptions {
  /** Replica counts to measure, in order. */
  counts: readonly number[];
  runs: number;
  /** Seconds per autocannon run. */
  seconds: number;
  /** autocannon connections at the maximum rate (a multiple of every count spreads them evenly); half at half rate. */
  connections: number;
}

/** CPU in % of one core over a run (100 × CPU seconds ÷ wall seconds). */
interface Cpu {
  machine: number;
  replicas: number;
  autocannon: number;
}

interface MaxRun {
  rate: number;
  bare: number;
  p99Ms: number;
  failed: number;
  forwardedShare: number;
  /** admission_forwards_total over the run, summed over the replicas, by outcome. */
  forwardsCounted: Record<string, number>;
  requests: number;
  /** Share of the requests each replica received, in replica order. */
  receivedShares: number[];
  cpu: Cpu | null;
}

interface HalfRun {
  rate: number;
  p50Ms: number;
  p99Ms: number;
  failed: number;
  forwardedShare: number;
}

export interface ReplicaFigures {
  replicas: number;
  partitions: number;
  /** Partitions each replica owned when the measurement started. */
  owned: number[];
  max: MaxRun[];
  halfRate: number;
  half: HalfRun[];
  /** Partitions taken over by any replica between the start and the end of the measurement (0 when the group held). */
  takeoversDuring: number;
  loadBefore: number;
  loadAfter: number;
}

/** Polls of a settled group in a row before measuring, and how far apart. */
const SETTLED_POLLS = 5;
const SETTLED_POLL_MS = 200;
const SETTLE_TIMEOUT_MS = 60_000;
const READY_TIMEOUT_MS = 120_000;
const WARMUP_SECONDS = 3;
/** How long a replica has to leave the group and exit on SIGTERM before it is killed. */
const STOP_TIMEOUT_MS = 15_000;
/** Balances published at once while opening the accounts. */
const OPEN_CONCURRENCY = 50;
/** Attempts at creating a run's topics: on a loaded broker, metadata of topics just created can lag behind. */
const CREATE_ATTEMPTS = 3;
const CREATE_RETRY_MS = 2_000;

/** Counts, per answer, the replica it was sent to and whether another replica decided it. */
class Tally {
  private readonly pidByPort: Map<number, number | undefined>;
  readonly received = new Map<number, number>();
  forwarded = 0;
  decided = 0;

  constructor(replicas: readonly Service[]) {
    this.pidByPort = new Map(replicas.map((r) => [r.port, r.process.pid]));
  }

  count(port: number, decidedBy: string | undefined): void {
    this.received.set(port, (this.received.get(port) ?? 0) + 1);
    // An answer without the header was decided nowhere (503 while a partition changed hands): neither local nor forwarded.
    if (decidedBy === undefined) return;
    this.decided++;
    if (pidOf(decidedBy) !== this.pidByPort.get(port)) this.forwarded++;
  }

  get forwardedShare(): number {
    return this.decided === 0 ? Number.NaN : this.forwarded / this.decided;
  }
}

/** The pid in a replicaId (`${hostname}-${pid}-${random}`; the hostname may hold dashes). */
function pidOf(replicaId: string): number | undefined {
  const match = /-(\d+)-[^-]+$/.exec(replicaId);
  return match === null ? undefined : Number(match[1]);
}

function headerOf(headers: Record<string, string | string[]>, name: string): string | undefined {
  const value = headers[name] ?? Object.entries(headers).find(([k]) => k.toLowerCase() === name)?.[1];
  return Array.isArray(value) ? value[0] : value;
}

function admissionLoad(ports: readonly number[], token: string, connections: number, seconds: number, tally: Tally | null, overallRate?: number): Promise<Result> {
  return autocannon({
    url: ports.map((p) => `http://127.0.0.1:${p}`),
    connections,
    duration: seconds,
    ...(overallRate === undefined ? {} : { overallRate }),
    requests: [
      {
        method: 'POST',
        path: '/v1/admissions',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        setupRequest: (request, context) => {
          // The connection's replica, for onResponse: autocannon gives each request its connection's URL.
          context.port = Number(request.port);
          return { ...request, body: nextBody() };
        },
        ...(tally === null ? {} : { onResponse: (_status: number, _body: string, context: Record<string, unknown>, headers: Record<string, string | string[]>) => tally.count(context.port as number, headerOf(headers, DECIDED_BY_HEADER)) }),
      },
    ],
  });
}

function bareLoad(port: number, connections: number, seconds: number): Promise<Result> {
  return autocannon({
    url: `http://127.0.0.1:${port}`,
    connections,
    duration: seconds,
    requests: [{ method: 'POST', path: '/v1/admissions', headers: { 'content-type': 'application/json' }, setupRequest: (r) => ({ ...r, body: nextBody() }) }],
  });
}

async function scrape(replicas: readonly Service[]): Promise<Sample[][]> {
  return Promise.all(replicas.map(async (r) => parsePrometheus(await (await fetch(`http://127.0.0.1:${r.port}/metrics`)).text())));
}

function total(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((sum, s) => sum + s.value, 0);
}

/** admission_forwards_total summed over the replicas, by outcome. */
function forwardsByOutcome(scrapes: readonly Sample[][]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of scrapes.flat()) if (s.name === 'admission_forwards_total') out[s.labels.outcome ?? ''] = (out[s.labels.outcome ?? ''] ?? 0) + s.value;
  return out;
}

/** Waits until every partition is owned and each replica owns some, for SETTLED_POLLS polls in a row; returns the split. */
async function settledOwnership(replicas: readonly Service[], partitions: number): Promise<number[]> {
  let inARow = 0;
  let owned: number[] = [];
  for (const deadline = Date.now() + SETTLE_TIMEOUT_MS; Date.now() < deadline; ) {
    owned = (await scrape(replicas)).map((samples) => total(samples, 'admission_partitions_owned'));
    inARow = owned.reduce((a, b) => a + b, 0) === partitions && owned.every((n) => n > 0) ? inARow + 1 : 0;
    if (inARow >= SETTLED_POLLS) return owned;
    await sleep(SETTLED_POLL_MS);
  }
  throw new Error(`the replica group did not settle in ${SETTLE_TIMEOUT_MS} ms (partitions owned: ${owned.join(', ')} of ${partitions})`);
}

async function openAccounts(run: AdmissionRun): Promise<void> {
  for (let a = 0; a < ACCOUNTS; a += OPEN_CONCURRENCY) {
    const batch = Array.from({ length: Math.min(OPEN_CONCURRENCY, ACCOUNTS - a) }, (_, i) => run.balance(`bench-acct-${a + i}`, 'enterprise', 1_000_000_000, 1));
    await Promise.all(batch);
  }
}

async function createRunRetrying(stack: Stack): Promise<AdmissionRun> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await createRun(stack);
    } catch (error) {
      if (attempt >= CREATE_ATTEMPTS) throw error;
      console.log(`(d) creating the run's topics failed (${error instanceof Error ? error.message : String(error)}); trying again`);
      await sleep(CREATE_RETRY_MS);
    }
  }
}

async function stop(service: Service): Promise<void> {
  const timer = setTimeout(() => void service.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await service.kill('SIGTERM');
  clearTimeout(timer);
}

async function measure(stack: Stack, count: number, bare: Service, options: ReplicaOptions): Promise<ReplicaFigures> {
  const loadBefore = loadavg()[0] ?? Number.NaN;
  const run = await createRunRetrying(stack);
  const replicas: Service[] = [];
  try {
    await openAccounts(run);
    for (let i = 0; i < count; i++) replicas.push(startAdmission(run, await freePort(), { LOG_LEVEL: 'warn' }));
    await Promise.all(replicas.map((r) => waitReady(r, READY_TIMEOUT_MS)));
    const partitions = (await run.admin.highWatermarks(run.topics.admissions)).size;
    const owned = await settledOwnership(replicas, partitions);
    const ports = replicas.map((r) => r.port);
    const warm = await admissionLoad(ports, run.token, options.connections, WARMUP_SECONDS, null);
    console.log(`(d) ${count} replica(s), partitions owned ${owned.join('/')}: warm-up ${Math.round(warm.requests.average)} req/s, non-2xx ${warm.non2xx}`);
    const takeoversBefore = total((await scrape(replicas)).flat(), 'admission_partition_takeover_seconds_count');

    const max: MaxRun[] = [];
    for (let i = 0; i < options.runs; i++) {
      const b = await bareLoad(bare.port, options.connections, options.seconds);
      const tally = new Tally(replicas);
      const before = await scrape(replicas);
      const pids = Object.fromEntries([['autocannon', process.pid], ...replicas.map((r, j) => [`replica${j}`, r.process.pid])]) as Record<string, number | undefined>;
      const cpuBefore = cpuSeconds(pids);
      const t0 = performance.now();
      const a = await admissionLoad(ports, run.token, options.connections, options.seconds, tally);
      const wallSeconds = (performance.now() - t0) / 1000;
      const cpuAfter = cpuSeconds(pids);
      const after = await scrape(replicas);
      const forwardsBefore = forwardsByOutcome(before);
      const forwardsCounted = Object.fromEntries(Object.entries(forwardsByOutcome(after)).map(([k, v]) => [k, v - (forwardsBefore[k] ?? 0)]));
      const used = (name: string) => (cpuBefore === null || cpuAfter === null ? 0 : (100 * ((cpuAfter[name] ?? 0) - (cpuBefore[name] ?? 0))) / wallSeconds);
      const answered = [...tally.received.values()].reduce((x, y) => x + y, 0);
      const result: MaxRun = {
        rate: a.requests.average,
        bare: b.requests.average,
        p99Ms: a.latency.p99,
        failed: a.non2xx + a.errors,
        forwardedShare: tally.forwardedShare,
        forwardsCounted,
        requests: answered,
        receivedShares: ports.map((p) => (tally.received.get(p) ?? 0) / answered),
        cpu: cpuBefore === null ? null : { machine: used('machine'), replicas: replicas.reduce((sum, _r, j) => sum + used(`replica${j}`), 0), autocannon: used('autocannon') },
      };
      max.push(result);
      console.log(
        `(d) ${count} replica(s) run ${i + 1}: bare ${Math.round(b.requests.average)} req/s, admission ${Math.round(a.requests.average)} req/s ` +
          `(non-2xx ${a.non2xx}, errors ${a.errors}), p99 at max ${a.latency.p99} ms, forwarded ${pct(result.forwardedShare)} ` +
          `(admission_forwards_total ${JSON.stringify(forwardsCounted)} of ${answered} answers), received ${result.receivedShares.map(pct).join('/')}` +
          (result.cpu === null ? '' : `, CPU % of one core: machine ${Math.round(result.cpu.machine)}, replicas ${Math.round(result.cpu.replicas)}, autocannon ${Math.round(result.cpu.autocannon)}`),
      );
    }

    const halfRate = Math.round(median(max.map((m) => m.rate)) / 2);
    const half: HalfRun[] = [];
    for (let i = 0; i < options.runs; i++) {
      const tally = new Tally(replicas);
      const r = await admissionLoad(ports, run.token, Math.max(count, Math.floor(options.connections / 2)), options.seconds, tally, halfRate);
      half.push({ rate: r.requests.average, p50Ms: r.latency.p50, p99Ms: r.latency.p99, failed: r.non2xx + r.errors, forwardedShare: tally.forwardedShare });
      console.log(`(d) ${count} replica(s) at ${halfRate} req/s, run ${i + 1}: ${Math.round(r.requests.average)} req/s, p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms, forwarded ${pct(tally.forwardedShare)}, non-2xx ${r.non2xx}, errors ${r.errors}`);
    }
    const takeoversDuring = total((await scrape(replicas)).flat(), 'admission_partition_takeover_seconds_count') - takeoversBefore;
    if (takeoversDuring > 0) console.log(`(d) ${count} replica(s): ${takeoversDuring} partition takeover(s) during the measurement`);
    return { replicas: count, partitions, owned, max, halfRate, half, takeoversDuring, loadBefore, loadAfter: loadavg()[0] ?? Number.NaN };
  } finally {
    await Promise.all(replicas.map(stop));
    await run.close();
  }
}

/** Runs (d) for every replica count, one after another, with one bare route process as the baseline throughout. */
export async function replicaBench(stack: Stack, bare: Service, options: ReplicaOptions): Promise<ReplicaFigures[]> {
  await bareLoad(bare.port, options.connections, WARMUP_SECONDS);
  const figures: ReplicaFigures[] = [];
  for (const count of options.counts) figures.push(await measure(stack, count, bare, options));
  return figures;
}

function pct(share: number): string {
  return Number.isNaN(share) ? 'n/a' : `${(100 * share).toFixed(1)} %`;
}

const int = (n: number) => Math.round(n).toLocaleString('en-US');

/** Medians over a count's maximum-rate runs. */
function atMax(f: ReplicaFigures) {
  const cpu = f.max.flatMap((m) => (m.cpu === null ? [] : [m.cpu]));
  const replicasCpu = cpu.length === 0 ? Number.NaN : median(cpu.map((c) => c.replicas));
  const rate = median(f.max.map((m) => m.rate));
  return {
    rate,
    bare: median(f.max.map((m) => m.bare)),
    machineCpu: cpu.length === 0 ? Number.NaN : median(cpu.map((c) => c.machine)),
    replicasCpu,
    autocannonCpu: cpu.length === 0 ? Number.NaN : median(cpu.map((c) => c.autocannon)),
    // Requests answered per CPU-second of the replicas together: what the replicas' own work costs per request,
    // whatever share of the machine the OS gave them (per run, then the median).
    perCpuSecond: cpu.length === 0 ? Number.NaN : median(f.max.flatMap((m) => (m.cpu === null || m.cpu.replicas <= 0 ? [] : [m.rate / (m.cpu.replicas / 100)]))),
    retried: f.max.reduce((s, m) => s + (m.forwardsCounted.failed ?? 0) + (m.forwardsCounted.not_owner ?? 0), 0),
    failed: f.max.reduce((s, m) => s + m.failed, 0) + f.half.reduce((s, h) => s + h.failed, 0),
  };
}

/** The "Admission replicas" section of docs/benchmarks.md. */
export function replicasSection(figures: readonly ReplicaFigures[], options: ReplicaOptions, command: string): string {
  const cores = cpus().length;
  const one = figures.find((f) => f.replicas === 1);
  const oneRate = one === undefined ? Number.NaN : atMax(one).rate;
  const rows = figures.map((f) => {
    const m = atMax(f);
    const vsOne = Number.isNaN(oneRate) ? '' : ` (${(m.rate / oneRate).toFixed(2)} × one)`;
    return `| ${f.replicas} | ${f.owned.join(' / ')} | **${int(m.rate)}**${vsOne} | ${int(m.bare)} | ${(m.rate / m.bare).toFixed(2)} | ${int(m.perCpuSecond)} | ${int(f.halfRate)} | ${median(f.half.map((h) => h.p50Ms))} / **${median(f.half.map((h) => h.p99Ms))} ms** | ${m.failed} |`;
  });
  const forwardRows = figures.map((f) => {
    const m = atMax(f);
    const counted = f.max.map((r) => (r.forwardsCounted.answered ?? 0) / r.requests);
    const received = f.owned.map((_, j) => pct(median(f.max.map((r) => r.receivedShares[j] ?? 0)))).join(' / ');
    const cpuCell = Number.isNaN(m.machineCpu) ? 'n/a' : `${Math.round(m.machineCpu)} / ${Math.round(m.replicasCpu)} / ${Math.round(m.autocannonCpu)}`;
    return `| ${f.replicas} | **${pct(median(f.max.map((r) => r.forwardedShare)))}** / ${pct(median(f.half.map((h) => h.forwardedShare)))} | ${pct(median(counted))} | ${pct((f.replicas - 1) / f.replicas)} | ${m.retried} | ${received} | ${cpuCell} | ${f.takeoversDuring} |`;
  });
  const loads = figures.map((f) => `${f.replicas}: ${f.loadBefore.toFixed(2)} → ${f.loadAfter.toFixed(2)}`).join('; ');

  // What this run's figures say, from the figures themselves (so the text stays true when the bench is run again).
  const notes: string[] = [];
  const maxLoad = Math.max(...figures.flatMap((f) => [f.loadBefore, f.loadAfter]));
  const saturated = figures.every((f) => atMax(f).machineCpu >= 0.9 * cores * 100);
  if (maxLoad > 2 * cores) {
    const shares = figures.map((f) => `${Math.round(atMax(f).replicasCpu)} % with ${f.replicas}`).join(', ');
    notes.push(
      `**The machine was oversubscribed during this run** (1-minute load average up to ${maxLoad.toFixed(1)} on ${cores} cores: other work ` +
        `was running beside the benchmark${saturated ? ', and the CPU column shows the machine fully busy during every maximum-rate run' : ''}). ` +
        `The admission processes together got ${shares} (% of one core) at the maximum rate. These req/s are therefore not what ` +
        `admission does on a quiet machine (compare section (b) above and its date), and compare replica counts only under this contention.`,
    );
  }
  if (one !== undefined) {
    const more = figures.filter((f) => f.replicas > 1 && atMax(f).replicasCpu > 1.2 * atMax(one).replicasCpu);
    if (more.length > 0 && maxLoad > cores) {
      notes.push(
        `With the machine oversubscribed, the OS shares the cores among all runnable threads, so ${more.map((f) => f.replicas).join(' and ')} ` +
          `replica processes got more CPU in total than one did: comparing req/s across replica counts also compares their shares of the ` +
          `machine. Requests per CPU-second of the replicas (${figures.map((f) => `${int(atMax(f).perCpuSecond)} with ${f.replicas}`).join(', ')}) ` +
          `compare the cost per request instead.`,
      );
    }
  }
  for (const f of figures.filter((x) => x.takeoversDuring > 0)) {
    notes.push(
      `With ${f.replicas} replicas the group did not hold during the measurement: ${f.takeoversDuring} partition takeovers happened after ` +
        `it had settled. Requests for a partition changing hands waited for the new owner or were answered 503 (the non-2xx column), so ` +
        `these figures are those of a group rebalancing under load, not of steady forwarding. The group's session timeout ` +
        `(ADMISSION_GROUP_SESSION_TIMEOUT_MS) is short so that a takeover stays within 2 s, and a replica starved of CPU can miss it.`,
    );
  }
  const retriedCounts = figures.filter((f) => atMax(f).retried > 0);
  if (retriedCounts.length > 0) {
    notes.push(
      `Forwards retried (${retriedCounts.map((f) => `${atMax(f).retried} over the maximum-rate runs with ${f.replicas}`).join(', ')}) are forwards ` +
        `that got no answer within one attempt's limit (replicaLimits.forwardAttemptMsMax) or reached a replica that no longer owned the ` +
        `account; the forwarding replica looked the owner up again and retried within the request's deadline. They happen when owners answer ` +
        `slower than that limit (p99 at the maximum rate: ${retriedCounts.map((f) => `${median(f.max.map((m) => m.p99Ms))} ms with ${f.replicas}`).join(', ')}) ` +
        `or ownership moves; when the deadline (ADMISSION_ROUTE_DEADLINE_MS) passes first, the request is answered 503 with Retry-After ` +
        `(the non-2xx column).`,
    );
  }

  return `
## Admission replicas (bench/admission, part d)

Command: \`${command}\` (RUNS=${options.runs}, REPLICA_SECONDS=${options.seconds}, REPLICA_CONNECTIONS=${options.connections}, REPLICAS=${options.counts.join(',')}) ·
machine: ${machine()} (\`nproc\` ${cores}) · ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC · medians of ${options.runs} runs ·
1-minute load average before → after each replica count: ${loads} (${cores} cores; above ${cores} means other work was waiting for them too).

For each replica count a fresh set of topics (8 partitions on the admissions topic, so the replica group and every
replica's state start empty), the 1,000 enterprise accounts × 10 users and codex-1 requests of (b), and N admission
processes in one replica group; measurement starts once every partition is owned and each replica owns some. autocannon
opens ${options.connections} keep-alive connections round-robin over the replicas (connection i to replica i mod N), so
each replica receives an equal share of the connections and each request goes to the replica its connection reached,
whatever its account; the owner of the account decides, so about (N − 1)/N of the requests are forwarded once.
The bare Fastify route of (b) (one process) alternates with every maximum-rate run as the baseline. Latency is
measured at half of the same replica count's median maximum, with ${Math.floor(options.connections / 2)} connections.
A request counts as forwarded when its answer's \`access-replica\` (the replica that decided) is not the replica it
was sent to; \`admission_forwards_total{outcome="answered"}\` summed over the replicas is the cross-check (it also
counts requests still in flight when autocannon stops, so it differs slightly when latency is high).

| replicas | partitions owned | throughput, max req/s | bare route, same runs | admission / bare | req/s per CPU-second of the replicas | half rate | p50 / p99 at half rate | non-2xx or errors |
| --- | --- | --- | --- | --- | --- | --- | --- | --- |
${rows.join('\n')}

| replicas | forwarded, by access-replica: at max / at half rate | forwarded, by admission_forwards_total at max | expected for an even spread | forwards retried (failed or not owner) | requests received per replica | CPU at max, % of one core: machine / replicas / autocannon | partitions taken over during the measurement |
| --- | --- | --- | --- | --- | --- | --- | --- |
${forwardRows.join('\n')}

What these figures mean on this machine: it has ${cores} cores, shared by Kafka, Postgres, ClickHouse, autocannon, the bare
route and other work. Two or three replicas add processes, not cores: they compete for the same ${cores} cores, so the
figures measure what replication costs at a fixed amount of CPU, not how far throughput grows when each replica has cores
of its own. The cost is real work: every forwarded request is received, parsed and answered twice (by the replica it
reached and by the owner, over a keep-alive connection), and every replica reads every other replica's decisions from
Kafka to keep all partitions warm for a takeover. How throughput grows with replicas that each have their own cores was
not measured here and is not extrapolated from these figures; it needs a run with one replica per machine (or per set
of cores).

${notes.join('\n\n')}
`;
}
