import { AdmissionState, type AdmissionRequest, type Rejection } from '@access/admission-domain';
import type { PlansConfig, PriceBook } from '@access/catalog';
import { seededRandom } from '@access/testing';
import { createLoadController, priorities, type ClassDemand, type FeedbackConfig, type LimitChange, type Priority } from '@access/load-feedback-domain';
import { CompletionHeap } from './completion-heap';
import { createFleetModel, toLoadSample } from './fleet-model';

/**
 * The whole loop in one process, without Kafka: simulated users send requests through admission's
 * real decision function (AdmissionState.decide), admitted credits load a FleetModel, the fleet's
 * sample and the decisions' demand feed the controller, and the controller's changes go back into
 * admission (applyLimits), exactly as `access.limits.v1` would carry them.
 *
 * The model is codex-1 on purpose: its requests are short, so each user's requests-per-minute limit
 * (which the load multiplier scales smoothly) is what binds. Long video jobs are bound by concurrency
 * slots, which the multiplier can only change in whole slots (floor(limit × multiplier), at least 1);
 * the controller copes with that too, but the picture would show admission's rounding rather than the
 * controller.
 *
 * Deterministic: the random stream is a seeded PRNG, time is the simulated clock.
 */
export interface ClosedLoopOptions {
  readonly feedback: FeedbackConfig;
  readonly plans: PlansConfig;
  readonly priceBook: PriceBook;
  readonly ticks: number;
  /** Offered demand as a share of capacity, from the given tick on. */
  readonly phases: readonly { readonly fromTick: number; readonly demandRatio: number }[];
  /**
   * Default 8000 (about 900 codex-1 requests a second at target): large enough that the random
   * arrivals move one tick's utilization by about 1%, well inside the hysteresis band. A much smaller
   * fleet is noisier per tick than the band is wide, and the chart shows noise instead of control.
   */
  readonly capacityCreditsPerSecond?: number;
  readonly seed?: number;
}

export interface ClassTick {
  readonly requestedCreditsPerSecond: number;
  readonly admittedCreditsPerSecond: number;
  readonly requests: number;
  readonly admitted: number;
  readonly multiplier: number;
}

export interface ClosedLoopTick {
  readonly tick: number;
  /** Offered demand over capacity, as the phases set it. */
  readonly demandRatio: number;
  /** Credits/s asked for in this tick over capacity (the random arrivals around demandRatio). */
  readonly requestedRatio: number;
  readonly utilization: number;
  readonly queueDepth: number;
  readonly p95LatencyMs: number;
  /** Keyed by `plan|priority`; multipliers in force during the tick. */
  readonly classes: Readonly<Record<string, ClassTick>>;
  readonly byPriority: Readonly<Record<Priority, PriorityTick>>;
  readonly changes: readonly LimitChange[];
}

export interface PriorityTick {
  readonly requests: number;
  readonly admitted: number;
  readonly meanMultiplier: number;
  /** Rejections by the reason admission gave. */
  readonly rejected: Readonly<Record<Rejection, number>>;
}

export interface ClosedLoopRun {
  readonly model: string;
  readonly capacityCreditsPerSecond: number;
  readonly ticks: readonly ClosedLoopTick[];
}

/** The scenario of the closed-loop test and chart: 50% of capacity, a step to 200%, and back to 50%. */
export const stepScenario = {
  ticks: 130,
  stepUpAtTick: 30,
  stepDownAtTick: 80,
  phases: [
    { fromTick: 0, demandRatio: 0.5 },
    { fromTick: 30, demandRatio: 2 },
    { fromTick: 80, demandRatio: 0.5 },
  ],
} as const;

/** Share of capacity each class asks for at 100% demand (the rows sum to 1). Critical stays inside its reserve. */
const demandMix: readonly { plan: string; priority: Priority; share: number }[] = [
  { plan: 'enterprise', priority: 'critical', share: 0.05 },
  { plan: 'free', priority: 'standard', share: 0.07 },
  { plan: 'plus', priority: 'standard', share: 0.09 },
  { plan: 'pro', priority: 'standard', share: 0.13 },
  { plan: 'enterprise', priority: 'standard', share: 0.09 },
  { plan: 'payg', priority: 'standard', share: 0.07 },
  { plan: 'free', priority: 'batch', share: 0.06 },
  { plan: 'plus', priority: 'batch', share: 0.08 },
  { plan: 'pro', priority: 'batch', share: 0.12 },
  { plan: 'enterprise', priority: 'batch', share: 0.13 },
  { plan: 'payg', priority: 'batch', share: 0.11 },
];
/** demandMix's shares by `plan|priority`. */
const shareOf = new Map(demandMix.map((r) => [`${r.plan}|${r.priority}`, r.share]));

const model = 'codex-1';
const tokens = { inputMin: 15_000, inputMax: 25_000, outputMin: 3_000, outputMax: 5_000 };
const durationMs = { min: 500, max: 2_000 };
/** Heavy users ask for more than their limit at peak: the class's limits at multiplier 1 admit this share of the peak. */
const limitsOverPeakDemand = 0.85;
/** Users per class at most, so a run stays fast; classes with generous limits need only a few users. */
const usersPerClassMax = 400;
const usersPerClassMin = 4;
/** Every simulated account can pay for everything: the credits layer is not what this loop is about. */
const simulatedBalanceCredits = 1_000_000_000_000;

interface SimUser {
  readonly accountId: string;
  readonly plan: string;
  readonly priority: Priority;
  /** Share of the class's demand this user sends (heterogeneous: some heavy, some light). */
  readonly weight: number;
  nextArrivalMs: number;
}

export function runClosedLoop(options: ClosedLoopOptions): ClosedLoopRun {
  const random = seededRandom(options.seed ?? 42);
  const capacity = options.capacityCreditsPerSecond ?? 8000;
  const tickMs = options.feedback.tickIntervalMs;
  const meanCost = meanRequestCredits(options.priceBook);

  const admission = new AdmissionState({ plans: options.plans, priceBook: options.priceBook });
  const controller = createLoadController({ ...options.feedback, models: [model] });
  const fleet = createFleetModel({ serviceTimeMs: (durationMs.min + durationMs.max) / 2, meanRequestCredits: meanCost });
  const loop: Loop = { random, capacity, meanCost, admission, completions: new CompletionHeap(), sequence: 0 };
  const users = createUsers(loop, options);

  let controllerState = controller.initialState(0);
  let fleetState = fleet.initialState();
  const ticks: ClosedLoopTick[] = [];

  for (let tick = 0; tick < options.ticks; tick++) {
    const startMs = tick * tickMs;
    const endMs = startMs + tickMs;
    const demandRatio = phaseAt(options.phases, tick);
    const multipliers = Object.fromEntries(
      controller.multipliers(controllerState).map((m) => [`${m.plan}|${m.priority}`, m.multiplier]),
    );
    const { perClass, rejected } = sendRequests(loop, arrivalsBetween(loop, users, demandRatio, startMs, endMs));

    // The fleet serves what was admitted; the controller sees its sample and admission's demand.
    const seconds = tickMs / 1000;
    const admittedTotal = [...perClass.values()].reduce((s, c) => s + c.admitted, 0) / seconds;
    const stepped = fleet.step(fleetState, { demandCreditsPerSecond: admittedTotal, capacityCreditsPerSecond: capacity, elapsedMs: tickMs });
    fleetState = stepped.state;
    const demand: ClassDemand[] = [...perClass.entries()].map(([key, c]) => {
      const [plan = '', priority = 'standard'] = key.split('|') as [string, Priority];
      return { model, plan, priority, admittedCreditsPerSecond: c.admitted / seconds, requestedCreditsPerSecond: c.requested / seconds };
    });
    const sample = toLoadSample(stepped.observation, { model, region: 'sim-1', capacityCreditsPerSecond: capacity, sampledAtMs: endMs });
    const result = controller.tick(controllerState, { samples: [sample], demand }, endMs);
    controllerState = result.state;
    for (const change of result.changes) admission.applyLimits(change.model, change.plan, change.priority, change.multiplier);

    const classes = classTicks(perClass, multipliers, seconds);
    const requestedTotal = [...perClass.values()].reduce((s, c) => s + c.requested, 0) / seconds;
    ticks.push({
      tick,
      demandRatio,
      requestedRatio: requestedTotal / capacity,
      utilization: stepped.observation.utilization,
      queueDepth: stepped.observation.queueDepth,
      p95LatencyMs: stepped.observation.p95LatencyMs,
      classes,
      byPriority: priorityTicks(classes, rejected),
      changes: result.changes,
    });
  }
  return { model, capacityCreditsPerSecond: capacity, ticks };
}

/** What every step of a run shares: the random stream, the fleet's size, admission, and requests in flight. */
interface Loop {
  readonly random: () => number;
  readonly capacity: number;
  /** Mean credits of one request (see meanRequestCredits). */
  readonly meanCost: number;
  readonly admission: AdmissionState;
  /** Admitted requests not completed yet. */
  readonly completions: CompletionHeap;
  /** Requests sent so far, for their ids. */
  sequence: number;
}

interface Arrival {
  readonly atMs: number;
  readonly user: SimUser;
}

/** One class's requests in one tick (keyed by `plan|priority`), in credits and in counts. */
interface ClassCounts {
  requested: number;
  admitted: number;
  requests: number;
  admittedCount: number;
}

/**
 * The simulated users of every class, their accounts funded in admission. Each class is sized so that its users'
 * limits at multiplier 1 admit most, not all, of its peak demand.
 */
function createUsers(loop: Loop, options: ClosedLoopOptions): SimUser[] {
  const { random, capacity, meanCost, admission } = loop;
  const peakRatio = Math.max(...options.phases.map((p) => p.demandRatio));
  const users: SimUser[] = [];
  for (const row of demandMix) {
    const plan = options.plans.plans.get(row.plan);
    if (plan === undefined) throw new Error(`plans.yaml has no plan ${row.plan}`);
    const peakCredits = row.share * peakRatio * capacity;
    const perUserLimitCredits = (plan.requestsPerMinute / 60) * meanCost;
    const count = clampInt(Math.ceil(peakCredits / (perUserLimitCredits * limitsOverPeakDemand)), usersPerClassMin, usersPerClassMax);
    const weights = Array.from({ length: count }, () => 0.3 + 1.4 * random());
    const total = weights.reduce((a, b) => a + b, 0);
    weights.forEach((w, i) => {
      const accountId = `sim-${row.plan}-${row.priority}-${i}`;
      admission.applyBalance({ accountId, version: 1, availableCredits: simulatedBalanceCredits, plan: row.plan });
      users.push({ accountId, plan: row.plan, priority: row.priority, weight: w / total, nextArrivalMs: Number.NaN });
    });
  }
  return users;
}

/** The requests users send in [startMs, endMs), in time order: a Poisson process per user at its share of the class's demand. */
function arrivalsBetween(loop: Loop, users: readonly SimUser[], demandRatio: number, startMs: number, endMs: number): Arrival[] {
  const { random, capacity, meanCost } = loop;
  const arrivals: Arrival[] = [];
  for (const user of users) {
    const classCredits = (shareOf.get(`${user.plan}|${user.priority}`) ?? 0) * demandRatio * capacity;
    const ratePerMs = (classCredits * user.weight) / meanCost / 1000;
    if (ratePerMs <= 0) continue;
    let at = Number.isNaN(user.nextArrivalMs) || user.nextArrivalMs < startMs ? startMs + exponential(random, ratePerMs) : user.nextArrivalMs;
    while (at < endMs) {
      arrivals.push({ atMs: at, user });
      at += exponential(random, ratePerMs);
    }
    user.nextArrivalMs = at;
  }
  arrivals.sort((a, b) => a.atMs - b.atMs);
  return arrivals;
}

/**
 * Sends each arrival through admission at its time, after the completions due by then, and schedules the completion of
 * each admitted request after a random duration. Returns what each class asked for and was admitted, and the
 * rejections by priority and reason.
 */
function sendRequests(
  loop: Loop,
  arrivals: readonly Arrival[],
): { perClass: Map<string, ClassCounts>; rejected: Record<Priority, Record<Rejection, number>> } {
  const { random, admission, completions } = loop;
  const perClass = new Map<string, ClassCounts>();
  const rejected = Object.fromEntries(priorities.map((p) => [p, noRejections()])) as Record<Priority, Record<Rejection, number>>;
  for (const { atMs, user } of arrivals) {
    const nowMs = Math.floor(atMs);
    for (let due = completions.peek(); due !== undefined && due.atMs <= nowMs; due = completions.peek()) {
      completions.pop();
      admission.applyCompletion(due.admissionId, due.credits, 'succeeded');
    }
    loop.sequence++;
    const sequence = loop.sequence;
    const request: AdmissionRequest = {
      admissionId: `adm-${sequence}`,
      requestId: `req-${sequence}`,
      accountId: user.accountId,
      userId: 'u',
      model,
      endpoint: 'code.generate',
      priority: user.priority,
      estimate: {
        meters: {
          input_tokens: Math.round(tokens.inputMin + (tokens.inputMax - tokens.inputMin) * random()),
          output_tokens: Math.round(tokens.outputMin + (tokens.outputMax - tokens.outputMin) * random()),
        },
        dimensions: {},
      },
    };
    const result = admission.decide(request, nowMs);
    if (result.decision === 'error') throw new Error(`simulated request was invalid: ${result.code} ${result.message}`);
    const key = `${user.plan}|${user.priority}`;
    const stats = perClass.get(key) ?? { requested: 0, admitted: 0, requests: 0, admittedCount: 0 };
    stats.requested += result.estimatedCredits;
    stats.requests++;
    if (result.decision === 'rejected' && result.reason !== null) rejected[user.priority][result.reason]++;
    if (result.decision === 'admitted') {
      stats.admitted += result.estimatedCredits;
      stats.admittedCount++;
      const duration = durationMs.min + (durationMs.max - durationMs.min) * random();
      completions.push({ atMs: nowMs + duration, admissionId: result.admissionId, credits: result.estimatedCredits });
    }
    perClass.set(key, stats);
  }
  return { perClass, rejected };
}

/** One tick's figures per class, every class of the mix present, with the multipliers in force during the tick. */
function classTicks(perClass: ReadonlyMap<string, ClassCounts>, multipliers: Readonly<Record<string, number>>, seconds: number): Record<string, ClassTick> {
  const classes: Record<string, ClassTick> = {};
  for (const row of demandMix) {
    const key = `${row.plan}|${row.priority}`;
    const c = perClass.get(key);
    classes[key] = {
      requestedCreditsPerSecond: (c?.requested ?? 0) / seconds,
      admittedCreditsPerSecond: (c?.admitted ?? 0) / seconds,
      requests: c?.requests ?? 0,
      admitted: c?.admittedCount ?? 0,
      multiplier: multipliers[key] ?? 1,
    };
  }
  return classes;
}

/** One tick's figures per priority: the sums of its classes, and its rejections. */
function priorityTicks(classes: Readonly<Record<string, ClassTick>>, rejected: Record<Priority, Record<Rejection, number>>): Record<Priority, PriorityTick> {
  return Object.fromEntries(
    priorities.map((p) => {
      const rows = demandMix.filter((r) => r.priority === p).map((r) => classes[`${r.plan}|${r.priority}`]!);
      return [
        p,
        {
          requests: rows.reduce((s, r) => s + r.requests, 0),
          admitted: rows.reduce((s, r) => s + r.admitted, 0),
          meanMultiplier: rows.reduce((s, r) => s + r.multiplier, 0) / Math.max(1, rows.length),
          rejected: rejected[p],
        },
      ];
    }),
  ) as Record<Priority, PriorityTick>;
}

function noRejections(): Record<Rejection, number> {
  return { rate_limited: 0, concurrency_limited: 0, load_shed: 0, insufficient_credits: 0 };
}

function meanRequestCredits(priceBook: PriceBook): number {
  const pricing = priceBook.models.get(model);
  const input = pricing?.meters.get('input_tokens');
  const output = pricing?.meters.get('output_tokens');
  if (input === undefined || output === undefined) throw new Error(`the price book has no ${model} with input_tokens and output_tokens`);
  const meanInput = (tokens.inputMin + tokens.inputMax) / 2;
  const meanOutput = (tokens.outputMin + tokens.outputMax) / 2;
  // Costs round up to a whole credit per request: on average half a credit more than the exact price.
  return (meanInput * input.credits) / input.per + (meanOutput * output.credits) / output.per + 0.5;
}

function phaseAt(phases: ClosedLoopOptions['phases'], tick: number): number {
  let ratio = phases[0]?.demandRatio ?? 0;
  for (const p of phases) if (p.fromTick <= tick) ratio = p.demandRatio;
  return ratio;
}

function exponential(random: () => number, ratePerMs: number): number {
  return -Math.log(1 - random()) / ratePerMs;
}

function clampInt(value: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, value));
}
