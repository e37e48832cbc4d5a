/**
 * The traffic simulator's workload: who sends what, when, and how each admitted request ends. Pure: time,
 * the seed and the run id are inputs; no I/O, no clock, no Math.random. The HTTP driver (driver.ts) asks
 * `due(nowMs)` for the requests whose time has come and `completionOf(...)` for how an admitted one ends.
 *
 * The personas are chosen so that every outcome of the admission waterfall occurs within the first two
 * minutes against the shipped config/ (plans.yaml, price-book.yaml) and a sora-2 fleet of low capacity:
 * see README.md for which persona produces which outcome and why.
 */
import type { AdmissionRequest, AdmissionResult, Usage } from '@access/client';
import { seededRandom } from '@access/testing';

export type PlanId = 'free' | 'plus' | 'pro' | 'enterprise' | 'payg';
export type Priority = 'critical' | 'standard' | 'batch';
export type ModelId = 'sora-2' | 'codex-1';
export type RequestStatus = 'succeeded' | 'failed' | 'cancelled';
export type GrantSource = 'purchase' | 'promo' | 'plan' | 'enterprise';

/** Named maximums: the simulator's memory and bursts are bounded whatever the clock does. */
export const workloadLimits = {
  /** Requests one `due()` call may return; the rest stay due for the next call. */
  dueRequestsMax: 1_000,
  /** Arrivals further behind than this (the driver stalled) are skipped instead of sent in a flood. */
  catchUpMsMax: 5_000,
  /**
   * Longest wait a well-behaved client accepts from a Retry-After. A concurrency rejection's Retry-After is
   * when the oldest running request's hold would expire (30 minutes for video); a real client retries sooner.
   */
  retryAfterHonouredMsMax: 15_000,
  /** Longest a simulated request runs (video jobs run for minutes). */
  runMsMax: 10 * 60_000,
} as const;

export { seededRandom };

export interface Estimate {
  readonly meters: Record<string, number>;
  readonly dimensions: Record<string, string>;
}

export type Arrival =
  /** Independent requests at a mean rate per user (exponential gaps). */
  | { readonly kind: 'poisson'; readonly perSecond: number }
  /** `size` requests at once per user, every `everyMs` (a CI job, a refactoring tool). */
  | { readonly kind: 'bursts'; readonly size: number; readonly everyMs: number };

export interface Persona {
  readonly name: string;
  /** One sentence: who this is and which outcome it is there to produce. */
  readonly role: string;
  /** Personas naming the same account share it. */
  readonly account: string;
  readonly plan: PlanId;
  readonly users: number;
  readonly model: ModelId;
  readonly endpoint: string;
  readonly priority: Priority;
  readonly arrival: Arrival;
  readonly startAfterMs: number;
  /** A well-behaved client waits out `Retry-After`; an abusive one keeps hammering. */
  readonly honorsRetryAfter: boolean;
  readonly estimate: (random: () => number) => Estimate;
  readonly runMs: readonly [number, number];
  readonly failedRatio: number;
  readonly cancelledRatio: number;
  /** Actual meters of a successful request as a fraction of the estimate (actual cost differs). */
  readonly actualRatio: readonly [number, number];
}

export interface GrantSetup {
  readonly grantId: string;
  readonly credits: number;
  readonly source: GrantSource;
}

export interface AccountSetup {
  readonly accountId: string;
  readonly plan: PlanId;
  readonly grants: readonly GrantSetup[];
}

export interface PlannedRequest {
  readonly seq: number;
  readonly requestId: string;
  readonly persona: string;
  readonly accountId: string;
  readonly userId: string;
  readonly model: ModelId;
  readonly endpoint: string;
  readonly priority: Priority;
  readonly estimate: Estimate;
  readonly atMs: number;
}

export interface CompletionPlan {
  readonly runMs: number;
  readonly status: RequestStatus;
  readonly meters: Record<string, number>;
  readonly gpuSeconds: number;
}

const between = (random: () => number, [low, high]: readonly [number, number]) => low + (high - low) * random();
const intBetween = (random: () => number, low: number, high: number) => Math.floor(low + (high - low + 1) * random());
const pick = <T>(random: () => number, items: readonly T[]): T => items[Math.min(items.length - 1, Math.floor(random() * items.length))]!;

const video = (resolutions: readonly string[], seconds: readonly [number, number]) => (random: () => number): Estimate => ({
  meters: { video_seconds: intBetween(random, seconds[0], seconds[1]) },
  dimensions: { resolution: pick(random, resolutions) },
});
const code = (input: readonly [number, number], output: readonly [number, number]) => (random: () => number): Estimate => ({
  meters: { input_tokens: intBetween(random, input[0], input[1]), output_tokens: intBetween(random, output[0], output[1]) },
  dimensions: {},
});

/**
 * The shipped cast. Costs with the shipped price book: sora-2 is 10 credits per second of 720p video
 * (480p half, 1080p double); codex-1 costs 0.2 + 0.8 credits per 1k input + output tokens.
 */
export const PERSONAS: readonly Persona[] = [
  {
    name: 'free-tinkerer', account: 'free', plan: 'free', users: 2, model: 'sora-2', endpoint: 'video.generate', priority: 'standard',
    role: 'Free users trying short videos: the 100-credit video allowance runs out after a few, then 402 insufficient_credits (free has no credits); one slot each.',
    arrival: { kind: 'poisson', perSecond: 0.06 }, startAfterMs: 0, honorsRetryAfter: true,
    estimate: video(['480p', '720p'], [5, 10]), runMs: [60_000, 150_000], failedRatio: 0.05, cancelledRatio: 0.05, actualRatio: [0.8, 1],
  },
  {
    name: 'plus-abuser', account: 'abuse', plan: 'plus', users: 1, model: 'codex-1', endpoint: 'code.complete', priority: 'standard',
    role: 'A script hammering codex at 5 requests/s on a 60-per-minute plan, ignoring Retry-After: rate_limited once its minute of burst is gone; half of what runs fails.',
    arrival: { kind: 'poisson', perSecond: 5 }, startAfterMs: 0, honorsRetryAfter: false,
    estimate: code([500, 3000], [200, 1500]), runMs: [50, 300], failedRatio: 0.5, cancelledRatio: 0.1, actualRatio: [0.5, 1.5],
  },
  {
    name: 'plus-video-creator', account: 'creator', plan: 'plus', users: 1, model: 'sora-2', endpoint: 'video.generate', priority: 'standard',
    role: 'One creator starting 720p/1080p videos that run for minutes: three slots fill within seconds (concurrency_limited); the allowance is spent, then the purchased credits.',
    arrival: { kind: 'poisson', perSecond: 0.15 }, startAfterMs: 0, honorsRetryAfter: true,
    estimate: video(['720p', '1080p'], [8, 20]), runMs: [60_000, 240_000], failedRatio: 0.05, cancelledRatio: 0.05, actualRatio: [0.7, 1.2],
  },
  {
    name: 'plus-coders', account: 'team', plan: 'plus', users: 3, model: 'codex-1', endpoint: 'code.complete', priority: 'standard',
    role: 'A small team whose editor fires bursts of completions: paid by the included allowance.',
    arrival: { kind: 'bursts', size: 6, everyMs: 15_000 }, startAfterMs: 1_000, honorsRetryAfter: true,
    estimate: code([1000, 8000], [100, 2000]), runMs: [1_000, 20_000], failedRatio: 0.02, cancelledRatio: 0.05, actualRatio: [0.6, 1.3],
  },
  {
    name: 'plus-flaky-bot', account: 'flaky', plan: 'plus', users: 1, model: 'codex-1', endpoint: 'code.complete', priority: 'standard',
    role: 'An integration whose requests fail 40% of the time: the failure-ratio signal that tightens its reputation.',
    arrival: { kind: 'poisson', perSecond: 0.5 }, startAfterMs: 0, honorsRetryAfter: true,
    estimate: code([500, 4000], [100, 1000]), runMs: [500, 5_000], failedRatio: 0.4, cancelledRatio: 0.05, actualRatio: [0.6, 1.2],
  },
  {
    name: 'pro-studio-batch', account: 'studio', plan: 'pro', users: 4, model: 'sora-2', endpoint: 'video.generate', priority: 'batch',
    role: 'A studio rendering 720p/1080p videos at batch priority: more than the small sora-2 fleet serves, so load-feedback sheds batch (load_shed); paid by allowance, then credits. A request every second or so, so that a shed answer follows soon after batch reaches 0.',
    arrival: { kind: 'poisson', perSecond: 0.25 }, startAfterMs: 0, honorsRetryAfter: true,
    estimate: video(['720p', '1080p'], [10, 30]), runMs: [30_000, 120_000], failedRatio: 0.05, cancelledRatio: 0.05, actualRatio: [0.8, 1.1],
  },
  {
    name: 'critical-app-code', account: 'critical', plan: 'enterprise', users: 2, model: 'codex-1', endpoint: 'code.complete', priority: 'critical',
    role: 'A critical enterprise application: steady code requests at critical priority, which the controller never sheds.',
    arrival: { kind: 'poisson', perSecond: 0.8 }, startAfterMs: 0, honorsRetryAfter: true,
    estimate: code([2000, 12000], [500, 4000]), runMs: [1_000, 10_000], failedRatio: 0.01, cancelledRatio: 0.01, actualRatio: [0.8, 1.2],
  },
  {
    name: 'critical-app-video', account: 'critical', plan: 'enterprise', users: 1, model: 'sora-2', endpoint: 'video.generate', priority: 'critical',
    role: 'The same application’s critical video jobs, served from the critical reserve while batch is shed.',
    arrival: { kind: 'poisson', perSecond: 0.05 }, startAfterMs: 0, honorsRetryAfter: true,
    estimate: video(['720p'], [5, 10]), runMs: [30_000, 90_000], failedRatio: 0.01, cancelledRatio: 0.01, actualRatio: [0.9, 1],
  },
  {
    name: 'payg-api', account: 'payg', plan: 'payg', users: 2, model: 'codex-1', endpoint: 'code.complete', priority: 'standard',
    role: 'A pay-as-you-go API customer with purchased credits: every request is admitted by credits.',
    arrival: { kind: 'poisson', perSecond: 0.5 }, startAfterMs: 0, honorsRetryAfter: true,
    estimate: code([1000, 20000], [500, 5000]), runMs: [1_000, 15_000], failedRatio: 0.03, cancelledRatio: 0.05, actualRatio: [0.6, 1.4],
  },
  {
    name: 'payg-broke', account: 'broke', plan: 'payg', users: 1, model: 'codex-1', endpoint: 'code.complete', priority: 'standard',
    role: 'A pay-as-you-go customer with a 100-credit purchase sending huge prompts (58–100 credits each): the first passes, every later one is insufficient_credits.',
    arrival: { kind: 'poisson', perSecond: 0.1 }, startAfterMs: 0, honorsRetryAfter: true,
    estimate: code([50_000, 100_000], [60_000, 100_000]), runMs: [10_000, 40_000], failedRatio: 0.05, cancelledRatio: 0.05, actualRatio: [0.9, 1.1],
  },
];

/** Grants bought or contracted on top of what the ledger grants each plan by itself (plans.yaml `grant`). */
const ACCOUNT_GRANTS: Readonly<Record<string, readonly { credits: number; source: GrantSource }[]>> = {
  free: [],
  abuse: [],
  creator: [{ credits: 3_000, source: 'purchase' }],
  team: [{ credits: 1_000, source: 'promo' }],
  flaky: [],
  studio: [{ credits: 50_000, source: 'purchase' }],
  critical: [{ credits: 200_000, source: 'enterprise' }],
  payg: [{ credits: 20_000, source: 'purchase' }],
  broke: [{ credits: 100, source: 'purchase' }],
};

export const accountIdOf = (runId: string, account: string) => `sim-${runId}-${account}`;

/** The accounts the personas use, each with its plan and grants (grant ids are fixed per run: idempotent). */
export function accountsOf(runId: string, personas: readonly Persona[] = PERSONAS): AccountSetup[] {
  const out = new Map<string, AccountSetup>();
  for (const p of personas) {
    const accountId = accountIdOf(runId, p.account);
    const known = out.get(accountId);
    if (known !== undefined) {
      if (known.plan !== p.plan) throw new RangeError(`account ${p.account} has two plans: ${known.plan} and ${p.plan}`);
      continue;
    }
    const grants = (ACCOUNT_GRANTS[p.account] ?? []).map((g, i) => ({ grantId: `${accountId}-g${i + 1}`, credits: g.credits, source: g.source }));
    out.set(accountId, { accountId, plan: p.plan, grants });
  }
  return [...out.values()];
}

interface Stream {
  readonly persona: Persona;
  readonly userId: string;
  nextMs: number;
}

/** The next gap of a stream, in milliseconds. */
function gapMs(arrival: Arrival, random: () => number): number {
  switch (arrival.kind) {
    case 'poisson':
      // Exponential gaps; 1 − u is in (0, 1], so the log is finite.
      return (-Math.log(1 - random()) / arrival.perSecond) * 1000;
    case 'bursts':
      return arrival.everyMs * (0.8 + 0.4 * random());
    default: {
      const _exhaustive: never = arrival;
      return _exhaustive;
    }
  }
}

/**
 * The arrivals of every persona's users. `due(nowMs)` returns what is due by `nowMs` in time order and
 * advances; `deferUser` moves one user's next request past a `Retry-After`.
 */
export class Workload {
  private readonly random: () => number;
  private readonly streams: Stream[] = [];
  private seq = 0;

  constructor(
    readonly runId: string,
    seed: number,
    startMs: number,
    readonly personas: readonly Persona[] = PERSONAS,
  ) {
    this.random = seededRandom(seed);
    for (const persona of personas) {
      for (let u = 1; u <= persona.users; u++) {
        const first = persona.arrival.kind === 'bursts' ? this.random() * 2_000 : gapMs(persona.arrival, this.random);
        this.streams.push({ persona, userId: `${persona.name}-u${u}`, nextMs: startMs + persona.startAfterMs + first });
      }
    }
  }

  due(nowMs: number): PlannedRequest[] {
    const out: PlannedRequest[] = [];
    for (const stream of this.streams) {
      // A stalled driver does not get a flood of stale arrivals: they are skipped, as real users give up.
      if (stream.nextMs < nowMs - workloadLimits.catchUpMsMax) stream.nextMs = nowMs - workloadLimits.catchUpMsMax;
      while (stream.nextMs <= nowMs && out.length < workloadLimits.dueRequestsMax) {
        const size = stream.persona.arrival.kind === 'bursts' ? stream.persona.arrival.size : 1;
        for (let i = 0; i < size && out.length < workloadLimits.dueRequestsMax; i++) out.push(this.request(stream, stream.nextMs));
        stream.nextMs += gapMs(stream.persona.arrival, this.random);
      }
    }
    return out.sort((a, b) => a.atMs - b.atMs || a.seq - b.seq);
  }

  /** A rejected user that honours Retry-After sends nothing more for that long (at most retryAfterHonouredMsMax). */
  deferUser(userId: string, nowMs: number, retryAfterMs: number): void {
    const untilMs = nowMs + Math.min(Math.max(0, retryAfterMs), workloadLimits.retryAfterHonouredMsMax);
    for (const stream of this.streams) {
      if (stream.userId === userId && stream.persona.honorsRetryAfter && stream.nextMs < untilMs) stream.nextMs = untilMs;
    }
  }

  personaOf(request: PlannedRequest): Persona {
    const persona = this.personas.find((p) => p.name === request.persona);
    if (persona === undefined) throw new RangeError(`unknown persona ${request.persona}`);
    return persona;
  }

  /** How an admitted request ends: its run time, status and actual meters (which differ from the estimate). */
  completionOf(request: PlannedRequest): CompletionPlan {
    const persona = this.personaOf(request);
    const runMs = Math.min(workloadLimits.runMsMax, Math.round(between(this.random, persona.runMs)));
    const roll = this.random();
    const status: RequestStatus = roll < persona.failedRatio ? 'failed' : roll < persona.failedRatio + persona.cancelledRatio ? 'cancelled' : 'succeeded';
    // A failed or cancelled request reports what it produced before it stopped; half of them produced nothing.
    const ratio = status === 'succeeded' ? between(this.random, persona.actualRatio) : this.random() < 0.5 ? 0 : between(this.random, [0.1, 0.6]);
    return { runMs, status, meters: scaleMeters(request.estimate.meters, ratio), gpuSeconds: round3((runMs / 1000) * (request.model === 'sora-2' ? 8 : 0.5) * Math.max(ratio, 0.05)) };
  }

  private request(stream: Stream, atMs: number): PlannedRequest {
    const seq = ++this.seq;
    const persona = stream.persona;
    return {
      seq,
      requestId: `sim-${this.runId}-${seq}`,
      persona: persona.name,
      accountId: accountIdOf(this.runId, persona.account),
      userId: stream.userId,
      model: persona.model,
      endpoint: persona.endpoint,
      priority: persona.priority,
      estimate: persona.estimate(this.random),
      atMs,
    };
  }
}

/** Meters scaled by `ratio`, kept whole (video seconds and tokens are counted in units). */
export function scaleMeters(meters: Readonly<Record<string, number>>, ratio: number): Record<string, number> {
  return Object.fromEntries(Object.entries(meters).map(([k, v]) => [k, Math.max(0, Math.round(v * ratio))]));
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

/** The `POST /v1/admissions` body of a planned request (CONTRACTS.md). */
export function admissionBody(request: PlannedRequest): AdmissionRequest {
  return {
    requestId: request.requestId,
    accountId: request.accountId,
    userId: request.userId,
    model: request.model,
    endpoint: request.endpoint,
    priority: request.priority,
    estimate: { meters: request.estimate.meters, dimensions: request.estimate.dimensions },
  };
}

/** The `POST /v1/admissions/{id}/complete` body: the data of `usage.request_completed` (the admissionId is in the path). */
export function completionBody(request: PlannedRequest, plan: CompletionPlan, startedAtMs: number, endedAtMs: number): Usage {
  return {
    requestId: request.requestId,
    accountId: request.accountId,
    userId: request.userId,
    model: request.model,
    endpoint: request.endpoint,
    status: plan.status,
    meters: plan.meters,
    dimensions: request.estimate.dimensions,
    gpuSeconds: plan.gpuSeconds,
    durationMs: Math.max(0, Math.round(endedAtMs - startedAtMs)),
    startedAt: new Date(startedAtMs).toISOString(),
    endedAt: new Date(Math.max(startedAtMs, endedAtMs)).toISOString(),
  };
}

/** What a caller sees, by the layer that decided: the six outcomes of the waterfall, and errors. */
export const OUTCOMES = ['admitted_allowance', 'admitted_credits', 'rate_limited', 'concurrency_limited', 'load_shed', 'insufficient_credits', 'error'] as const;
export type Outcome = (typeof OUTCOMES)[number];

export interface ClassifiedAnswer {
  readonly outcome: Outcome;
  readonly admissionId?: string;
  readonly estimatedCredits: number;
  readonly retryAfterMs?: number;
}

/** Reads an admission answer (status and parsed JSON body) into an outcome. Unknown shapes are errors. */
export function classifyAnswer(result: AdmissionResult | undefined): ClassifiedAnswer {
  if (result === undefined) return { outcome: 'error', estimatedCredits: 0 };
  const credits = result.estimatedCredits ?? 0;
  if (result.decision === 'admitted') {
    const byCredits = result.decidedBy === 'credits' || (result.decidedBy === undefined && result.fundedBy.some((f) => f.source === 'credits' && f.credits > 0));
    return { outcome: byCredits ? 'admitted_credits' : 'admitted_allowance', admissionId: result.admissionId, estimatedCredits: credits };
  }
  return { outcome: result.reason, estimatedCredits: credits, ...(result.retryAfterMs !== undefined ? { retryAfterMs: result.retryAfterMs } : {}) };
}

/**
 * A token bucket over the whole simulator: at most `perSecond` requests per second, bursts of at most
 * `burst`. Time comes in; what is over the cap is not sent (and counted by the driver).
 */
export class RateCap {
  private tokens: number;
  private lastMs: number;

  constructor(
    readonly perSecond: number,
    readonly burst: number,
    nowMs: number,
  ) {
    if (!(perSecond > 0) || !(burst >= 1)) throw new RangeError('RateCap needs perSecond > 0 and burst >= 1');
    this.tokens = burst;
    this.lastMs = nowMs;
  }

  take(nowMs: number): boolean {
    if (nowMs > this.lastMs) {
      this.tokens = Math.min(this.burst, this.tokens + ((nowMs - this.lastMs) / 1000) * this.perSecond);
      this.lastMs = nowMs;
    }
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/** Cumulative counts the driver reports: by outcome, by persona, and credits admitted per account. */
export interface SimStats {
  readonly startedAtMs: number;
  readonly counts: Record<Outcome, number>;
  readonly byPersona: Record<string, Partial<Record<Outcome, number>>>;
  readonly admittedCreditsByAccount: Record<string, number>;
  /** When each outcome first occurred, in ms since the start (undefined: not yet). */
  readonly firstAtMs: Partial<Record<Outcome, number>>;
  sentRequests: number;
  cappedRequests: number;
  completionsSent: number;
  completionErrors: number;
  running: number;
}

export function emptyStats(startedAtMs: number): SimStats {
  return {
    startedAtMs,
    counts: Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Record<Outcome, number>,
    byPersona: {},
    admittedCreditsByAccount: {},
    firstAtMs: {},
    sentRequests: 0,
    cappedRequests: 0,
    completionsSent: 0,
    completionErrors: 0,
    running: 0,
  };
}

export function recordAnswer(stats: SimStats, request: PlannedRequest, answer: ClassifiedAnswer, nowMs: number): void {
  stats.counts[answer.outcome] += 1;
  const persona = (stats.byPersona[request.persona] ??= {});
  persona[answer.outcome] = (persona[answer.outcome] ?? 0) + 1;
  if (stats.firstAtMs[answer.outcome] === undefined) stats.firstAtMs[answer.outcome] = Math.max(0, nowMs - stats.startedAtMs);
  if (answer.outcome === 'admitted_allowance' || answer.outcome === 'admitted_credits') {
    stats.admittedCreditsByAccount[request.accountId] = (stats.admittedCreditsByAccount[request.accountId] ?? 0) + answer.estimatedCredits;
  }
}
