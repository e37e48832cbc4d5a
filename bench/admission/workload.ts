/**
 * The in-process workload of bench/admission (a): one AdmissionState on one core, fed the way the
 * service feeds it. 10,000 active accounts (2 users each) on a realistic plan mix, codex and video
 * requests of varied size, time advancing with the decisions, and every admitted request completed
 * after a simulated run time, at which point the ledger's reservation and new balance arrive too (so
 * holds are reflected and memory stays at the steady state a live instance has).
 *
 * Two figures: decisions per second of decide() alone (timed around runs of decisions), and of the whole
 * loop, which also applies the completion, reservation and balance inputs the admitted decisions cause
 * (on the same core, as the service does).
 */
import { AdmissionState, type AdmissionRequest } from '@access/admission-domain';
import type { Catalog, Priority } from '@access/catalog';
import { createUuidv7Generator } from '@access/contracts';
import { seededRandom as rng } from '@access/testing';

export interface WorkloadOptions {
  accounts: number;
  usersPerAccount: number;
  /** Simulated ms between two decisions: with 20,000 users, 0.2 ms is one request per user every 4 s. */
  stepMs: number;
  /**
   * How requests spread over users: 0 is uniform (every user equally busy, the worst case for caches);
   * s > 0 is Zipf(s) over users (a few busy users, a long tail), as real traffic is.
   */
  zipfS: number;
  seed: number;
}

export interface WorkloadResult {
  decisions: number;
  /** Wall time of the whole loop (decisions, completions, ledger inputs, the workload's own bookkeeping). */
  seconds: number;
  /** Wall time inside the decide() loops only. */
  decideSeconds: number;
  /** decisions / decideSeconds: the in-process decision rate. */
  decisionsPerSecond: number;
  /** decisions / seconds: the rate with everything the decisions cause applied on the same core. */
  loopDecisionsPerSecond: number;
  /**
   * The same two rates per second of this process's CPU time (user + system): what one core does when
   * it is not shared. The machine is shared, so wall-time rates also count time spent descheduled.
   */
  decisionsPerCpuSecond: number;
  loopDecisionsPerCpuSecond: number;
  admitted: number;
  rejected: Record<string, number>;
  completions: number;
  openAdmissions: number;
  heapUsedMiB: number;
}

const PLAN_MIX: readonly [string, number, number][] = [
  // plan, share of accounts, starting balance
  ['free', 0.25, 0],
  ['plus', 0.2, 2_000],
  ['pro', 0.1, 20_000],
  ['enterprise', 0.05, 500_000],
  ['payg', 0.4, 50_000],
];


interface Running {
  admissionId: string;
  accountIndex: number;
  actualCredits: number;
  heldCredits: number;
}

export class Workload {
  readonly state: AdmissionState;
  private readonly random: () => number;
  private readonly templates: AdmissionRequest[] = [];
  private readonly accountIds: string[] = [];
  private readonly ledgerAvailable: number[] = [];
  private readonly ledgerVersion: number[] = [];
  /** Completions due, in buckets of 100 simulated ms (a timing wheel: O(1) per completion). */
  private readonly wheel: Running[][] = [];
  private readonly wheelBucketMs = 100;
  private readonly wheelSize = 1024;
  private wheelCursor = 0;
  private nowMs = Date.parse('2026-11-25T10:00:00.000Z');
  private readonly requests: AdmissionRequest[] = [];
  private readonly newId: (nowMs: number) => string;
  completions = 0;

  constructor(
    catalog: Catalog,
    private readonly options: WorkloadOptions,
  ) {
    this.state = new AdmissionState({ plans: catalog.plans, priceBook: catalog.priceBook });
    this.random = rng(options.seed);
    let idClock = 0;
    const generate = createUuidv7Generator(() => idClock, this.random);
    this.newId = (nowMs) => {
      idClock = nowMs;
      return generate();
    };
    for (let i = 0; i < this.wheelSize; i++) this.wheel.push([]);
    this.wheelCursor = Math.floor(this.nowMs / this.wheelBucketMs);
    for (let a = 0; a < options.accounts; a++) {
      const accountId = `acct-${a}`;
      const [plan, , credits] = pickPlan(a / options.accounts);
      this.accountIds.push(accountId);
      this.ledgerAvailable.push(credits);
      this.ledgerVersion.push(1);
      this.state.applyBalance({ accountId, plan, version: 1, availableCredits: credits });
      for (let u = 0; u < options.usersPerAccount; u++) {
        const priority: Priority = plan === 'enterprise' && u === 0 ? 'critical' : 'standard';
        const video = this.random() < 0.5;
        const hd = this.random() < 0.3;
        this.templates.push({
          admissionId: '',
          requestId: '',
          accountId,
          userId: `u-${u}`,
          model: video ? 'sora-2' : 'codex-1',
          endpoint: video ? 'video.generate' : 'code.complete',
          priority,
          estimate: video
            ? { meters: { video_seconds: hd ? 10 : 5 }, dimensions: { resolution: hd ? '1080p' : '720p' } }
            : { meters: { input_tokens: 2_000 + Math.floor(this.random() * 6_000), output_tokens: 1_000 + Math.floor(this.random() * 3_000) }, dimensions: {} },
        });
      }
    }
    this.initZipf();
  }

  private initZipf(): void {
    const n = this.templates.length;
    if (this.options.zipfS <= 0) return;
    // Ranks are shuffled over users so that busy users are spread over accounts and plans.
    const ranks = Array.from({ length: n }, (_, i) => i + 1);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(this.random() * (i + 1));
      [ranks[i], ranks[j]] = [ranks[j] as number, ranks[i] as number];
    }
    const cdf = new Float64Array(n);
    let total = 0;
    for (let i = 0; i < n; i++) total += 1 / (ranks[i] as number) ** this.options.zipfS;
    let acc = 0;
    for (let i = 0; i < n; i++) {
      acc += 1 / (ranks[i] as number) ** this.options.zipfS / total;
      cdf[i] = acc;
    }
    cdf[n - 1] = 1;
    this.zipfCdf = cdf;
  }

  /**
   * Runs `count` decisions; returns what happened and how long it took. Completions (and the ledger's
   * reservation and balance for them) are applied between runs of decisions, at every 100 ms of
   * simulated time, outside the decide timer: `decideSeconds` is decide() alone, `seconds` everything.
   */
  run(count: number): WorkloadResult {
    const rejected: Record<string, number> = {};
    let admitted = 0;
    const templates = this.templates;
    const users = templates.length;
    const state = this.state;
    const step = this.options.stepMs;
    const perBucket = Math.max(1, Math.round(this.wheelBucketMs / step));
    let decideMs = 0;
    let decideCpuUs = 0;
    const t0 = performance.now();
    const c0 = cpuUs();
    let sim = this.nowMs;
    let done = 0;
    while (done < count) {
      this.completeDue(Math.floor(sim));
      const batch = Math.min(perBucket, count - done);
      // admissionIds as the service makes them (UUIDv7), generated outside the decide timer.
      // Requests as the service hands them to decide(): freshly parsed objects (so, like a body just
      // parsed, in cache), built outside the decide timer with their admissionIds.
      const requests = this.requests;
      for (let i = 0; i < batch; i++) requests[i] = freshRequest(templates[this.pickUser(users)] as AdmissionRequest, this.newId(Math.floor(sim + i * step)));
      const d0 = performance.now();
      const dc0 = cpuUs();
      for (let i = 0; i < batch; i++) {
        sim += step;
        const now = Math.floor(sim);
        const template = requests[i] as AdmissionRequest;
        const id = template.admissionId;
        const result = state.decide(template, now);
        if (result.decision === 'admitted') {
          admitted++;
          // Actual cost within ±30 % of the estimate; run time 0.5 to 4 s for code, 3 to 15 s for video.
          const actual = Math.floor(result.estimatedCredits * (0.7 + this.random() * 0.6));
          const runMs = template.model === 'sora-2' ? 3_000 + this.random() * 12_000 : 500 + this.random() * 3_500;
          this.schedule(now + Math.floor(runMs), { admissionId: id, accountIndex: this.accountIndex(template.accountId), actualCredits: actual, heldCredits: result.heldCredits });
        } else {
          const reason = result.decision === 'error' ? result.code : (result.reason ?? 'none');
          rejected[reason] = (rejected[reason] ?? 0) + 1;
        }
      }
      decideMs += performance.now() - d0;
      decideCpuUs += cpuUs() - dc0;
      done += batch;
    }
    const seconds = (performance.now() - t0) / 1000;
    const cpuSeconds = (cpuUs() - c0) / 1e6;
    this.nowMs = sim;
    return {
      decisions: count,
      seconds,
      decideSeconds: decideMs / 1000,
      decisionsPerSecond: count / (decideMs / 1000),
      loopDecisionsPerSecond: count / seconds,
      decisionsPerCpuSecond: count / (decideCpuUs / 1e6),
      loopDecisionsPerCpuSecond: count / cpuSeconds,
      admitted,
      rejected,
      completions: this.completions,
      openAdmissions: state.stats().openAdmissions,
      heapUsedMiB: Math.round(process.memoryUsage().heapUsed / 2 ** 20),
    };
  }

  private readonly accountIndexes = new Map<string, number>();
  private accountIndex(accountId: string): number {
    let i = this.accountIndexes.get(accountId);
    if (i === undefined) {
      i = this.accountIds.indexOf(accountId);
      this.accountIndexes.set(accountId, i);
    }
    return i;
  }

  /** Cumulative Zipf weights over users (empty when uniform), searched by bisection. */
  private zipfCdf: Float64Array | null = null;

  private pickUser(users: number): number {
    const u = this.random();
    const cdf = this.zipfCdf;
    if (cdf === null) return Math.floor(u * users);
    let lo = 0;
    let hi = cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((cdf[mid] as number) < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private schedule(atMs: number, running: Running): void {
    const bucket = Math.floor(atMs / this.wheelBucketMs);
    (this.wheel[bucket % this.wheelSize] as Running[]).push(running);
  }

  /** Completes what is due by now: the completion, then the ledger's reservation and balance for it. */
  private completeDue(nowMs: number): void {
    const due = Math.floor(nowMs / this.wheelBucketMs);
    while (this.wheelCursor < due) {
      const bucket = this.wheel[this.wheelCursor % this.wheelSize] as Running[];
      for (let i = 0; i < bucket.length; i++) {
        const r = bucket[i] as Running;
        const outcome = this.state.applyCompletion(r.admissionId, r.actualCredits, 'succeeded');
        this.completions++;
        if (r.heldCredits > 0 && outcome.outcome === 'completed') {
          const a = r.accountIndex;
          const version = (this.ledgerVersion[a] as number) + 1;
          this.ledgerVersion[a] = version;
          this.ledgerAvailable[a] = (this.ledgerAvailable[a] as number) - outcome.creditsCharged;
          this.state.applyLedgerReserved(r.admissionId, version);
          this.state.applyBalance({ accountId: this.accountIds[a] as string, version, availableCredits: this.ledgerAvailable[a] as number });
        }
      }
      bucket.length = 0;
      this.wheelCursor++;
    }
  }
}

function freshRequest(t: AdmissionRequest, admissionId: string): AdmissionRequest {
  return {
    admissionId,
    requestId: admissionId,
    accountId: t.accountId,
    userId: t.userId,
    model: t.model,
    endpoint: t.endpoint,
    priority: t.priority,
    estimate: { meters: { ...t.estimate.meters }, dimensions: { ...t.estimate.dimensions } },
  };
}

/** CPU time of this process so far, in µs (a syscall: called per run of decisions, not per decision). */
function cpuUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

function pickPlan(fraction: number): [string, number, number] {
  let acc = 0;
  for (const entry of PLAN_MIX) {
    acc += entry[1];
    if (fraction < acc) return entry as [string, number, number];
  }
  return PLAN_MIX[PLAN_MIX.length - 1] as [string, number, number];
}
