import { classKey, priorities, restoreOrder, roundMultiplier, shedOrder, type Priority, type TrafficClass } from '../classes';
import type { FeedbackConfig } from '../feedback-config';
import { feedbackLimits } from '../limits';
import { weightedFairShare } from './fair-share';

/** One `load.sampled` event, with its CloudEvents `time` as `sampledAtMs`. */
export interface LoadSample {
  readonly model: string;
  readonly region: string;
  /** Busy fraction of the region's fleet, 0..1. */
  readonly utilization: number;
  readonly queueDepth: number;
  readonly p95LatencyMs: number;
  readonly capacityCreditsPerSecond: number;
  readonly sampledAtMs: number;
}

/**
 * Demand of one class over the last tick, from `admission.decided` events: the credits/s admitted and
 * the credits/s asked for (admitted plus rejected). The gap between them is what a raise would let in.
 */
export interface ClassDemand extends TrafficClass {
  readonly admittedCreditsPerSecond: number;
  readonly requestedCreditsPerSecond: number;
}

export interface ControllerInputs {
  /** load.sampled events received since the last tick (any order; older ones than known are ignored). */
  readonly samples: readonly LoadSample[];
  /** Demand per class over the last tick window; a class not listed had none. */
  readonly demand: readonly ClassDemand[];
}

/**
 * Why a multiplier moved; published as `reason` of `limits.adjusted`.
 * - `overload`: the fleet is above target + band; batch is cut first, then standard, critical only above its reserve.
 * - `recovery`: the fleet is below target - band; additive increase back towards 1.
 * - `borrow`: the fleet is idle (below borrowBelowUtilization); increase above 1, up to borrowCap.
 * - `stale_samples`: the fleet stopped reporting; after the hold, step down towards the safe default.
 */
export type FeedbackReason = 'overload' | 'recovery' | 'borrow' | 'stale_samples';

/** One `limits.adjusted` event to publish: only multipliers that changed produce one. */
export interface LimitChange extends TrafficClass {
  readonly multiplier: number;
  readonly reason: FeedbackReason;
  /** The numbers the decision was made from, so that "why did this move?" has an answer. */
  readonly inputs: Readonly<Record<string, number>>;
}

export interface ClassMultiplier extends TrafficClass {
  readonly multiplier: number;
}

interface ModelState {
  readonly model: string;
  /** Latest sample per region, newest first; at most regionsPerModelMax (beyond it the stalest regions are dropped). */
  readonly regions: readonly LoadSample[];
  /** Time of the newest sample ever seen, or of the controller's start when none was. */
  readonly lastSampleAtMs: number;
  /** Multipliers in force, one per class the plans allow, keyed by `plan|priority`. */
  readonly multipliers: Readonly<Record<string, number>>;
  /**
   * Last measured admitted credits/s per unit of multiplier, per class, while it was not shed: what
   * letting a shed class back in is expected to cost, when its admitted load is 0 and tells nothing.
   */
  readonly slopes: Readonly<Record<string, number>>;
  /** Consecutive fresh ticks below the band; raises wait for restoreAfterTicks of them. */
  readonly belowBandTicks: number;
  /** Exponentially smoothed load ratio (weight loadSmoothing on the newest tick); null before the first fresh tick. */
  readonly smoothedLoadRatio: number | null;
}

export interface ControllerState {
  readonly models: readonly ModelState[];
  readonly lastTickAtMs: number;
}

export interface TickResult {
  readonly state: ControllerState;
  readonly changes: readonly LimitChange[];
}

export interface LoadController {
  /** Every class at 1 (admission's default when no `limits.adjusted` exists), or at the restored value. */
  initialState(nowMs: number, restored?: readonly ClassMultiplier[]): ControllerState;
  tick(state: ControllerState, inputs: ControllerInputs, nowMs: number): TickResult;
  /** The multipliers in force, for a snapshot or for admission in a simulation. */
  multipliers(state: ControllerState): ClassMultiplier[];
}

/** Below this many credits/s a demand or headroom is float noise, not a signal. */
const creditsEpsilon = 1e-9;

/**
 * The load-feedback controller: bounded, hysteretic, priority-ordered and fair between plans.
 * Pure: time and inputs come in, the next state and the changes to publish come out.
 */
export function createLoadController(config: FeedbackConfig): LoadController {
  const classes = Object.entries(config.plans).flatMap(([plan, p]) =>
    priorities.filter((priority) => p.priorities.includes(priority)).map((priority) => ({ plan, priority })),
  );
  const knownModels = new Set(config.models);
  const c = config.controller;

  function initialState(nowMs: number, restored: readonly ClassMultiplier[] = []): ControllerState {
    const restoredByKey = new Map(restored.map((r) => [classKey(r), r.multiplier]));
    return {
      lastTickAtMs: nowMs,
      models: config.models.map((model) => ({
        model,
        regions: [],
        lastSampleAtMs: nowMs,
        slopes: {},
        belowBandTicks: 0,
        smoothedLoadRatio: null,
        multipliers: Object.fromEntries(
          classes.map(({ plan, priority }) => {
            const value = restoredByKey.get(classKey({ model, plan, priority }));
            const safe = value === undefined || !Number.isFinite(value) ? 1 : clamp(value, 0, c.borrowCap);
            return [innerKey(plan, priority), roundMultiplier(safe)];
          }),
        ),
      })),
    };
  }

  function tick(state: ControllerState, inputs: ControllerInputs, nowMs: number): TickResult {
    const samples = inputs.samples.slice(0, feedbackLimits.samplesPerTickMax);
    const demand = inputs.demand.slice(0, feedbackLimits.demandRowsPerTickMax);
    const changes: LimitChange[] = [];
    const models = state.models.map((modelState) => {
      const merged = mergeSamples(modelState, samples.filter((s) => s.model === modelState.model), nowMs);
      const next = tickModel(merged, demand.filter((d) => d.model === modelState.model), nowMs);
      changes.push(...next.changes);
      return next.state;
    });
    return { state: { models, lastTickAtMs: nowMs }, changes };
  }

  function mergeSamples(model: ModelState, samples: readonly LoadSample[], nowMs: number): ModelState {
    const byRegion = new Map(model.regions.map((s) => [s.region, s]));
    for (const raw of samples) {
      if (!isUsable(raw) || !knownModels.has(raw.model)) continue;
      // A fleet clock ahead of ours must not make a sample look fresh for longer than it is.
      const sample = raw.sampledAtMs > nowMs ? { ...raw, sampledAtMs: nowMs } : raw;
      const known = byRegion.get(sample.region);
      if (known === undefined || known.sampledAtMs <= sample.sampledAtMs) byRegion.set(sample.region, sample);
    }
    const regions = [...byRegion.values()]
      .sort((a, b) => b.sampledAtMs - a.sampledAtMs)
      .slice(0, feedbackLimits.regionsPerModelMax);
    const newest = regions[0]?.sampledAtMs ?? model.lastSampleAtMs;
    return { ...model, regions, lastSampleAtMs: Math.max(model.lastSampleAtMs, newest) };
  }

  function tickModel(model: ModelState, demand: readonly ClassDemand[], nowMs: number): ModelTickResult {
    const fresh = model.regions.filter((s) => nowMs - s.sampledAtMs <= config.staleSamples.staleAfterMs);
    if (fresh.length === 0) return staleTick(model, nowMs);

    const capacity = sum(fresh.map((s) => s.capacityCreditsPerSecond));
    const utilization =
      capacity > 0
        ? sum(fresh.map((s) => s.utilization * s.capacityCreditsPerSecond)) / capacity
        : sum(fresh.map((s) => s.utilization)) / fresh.length;
    const demandOf = (plan: string, priority: Priority) =>
      demand.find((d) => d.plan === plan && d.priority === priority) ?? {
        model: model.model,
        plan,
        priority,
        admittedCreditsPerSecond: 0,
        requestedCreditsPerSecond: 0,
      };
    const views: ClassView[] = classes.map(({ plan, priority }) => {
      const d = demandOf(plan, priority);
      const key = innerKey(plan, priority);
      return {
        plan,
        priority,
        weight: config.plans[plan]?.weight ?? 1,
        multiplier: model.multipliers[key] ?? 1,
        admitted: nonNegative(d.admittedCreditsPerSecond),
        requested: Math.max(nonNegative(d.requestedCreditsPerSecond), nonNegative(d.admittedCreditsPerSecond)),
        slope: model.slopes[key] ?? 0,
      };
    });
    const slopes: Record<string, number> = { ...model.slopes };
    for (const v of views) if (v.multiplier > 0 && v.admitted > creditsEpsilon) slopes[innerKey(v.plan, v.priority)] = v.admitted / v.multiplier;
    const admittedTotal = sum(views.map((v) => v.admitted));
    // The fleet's own utilization may lag admission (or include work admission never saw), and a
    // saturated fleet reports 1 however far demand exceeds it: the larger of the two is the load.
    const load = Math.max(utilization * capacity, admittedTotal);
    const loadRatio = capacity > 0 ? load / capacity : admittedTotal > 0 ? Number.POSITIVE_INFINITY : utilization;
    const smoothedLoadRatio =
      model.smoothedLoadRatio === null || !Number.isFinite(loadRatio) || !Number.isFinite(model.smoothedLoadRatio)
        ? loadRatio
        : c.loadSmoothing * loadRatio + (1 - c.loadSmoothing) * model.smoothedLoadRatio;
    // This tick's load decides whether to move (so a step is answered at once); how far to move is
    // sized on the smoothed load where that is the more cautious number, so a one-tick spike or dip
    // (noise, or the burst admission lets through when limits change) moves little.
    const smoothedLoad = Number.isFinite(smoothedLoadRatio) ? smoothedLoadRatio * capacity : load;
    const observation: Observation = {
      utilization,
      loadRatio,
      smoothedLoadRatio,
      capacity,
      load,
      cutLoad: Math.min(load, smoothedLoad),
      raiseLoad: Math.max(load, smoothedLoad),
      admittedTotal,
      queueDepth: sum(fresh.map((s) => s.queueDepth)),
      p95LatencyMs: Math.max(...fresh.map((s) => s.p95LatencyMs)),
      freshRegions: fresh.length,
    };

    // Inside the band nothing moves: this is what keeps the loop from chasing noise. Cuts act on the
    // first tick above it; raises wait until the fleet has been below it for restoreAfterTicks, so
    // that one quiet tick does not let in load the next tick has to cut again.
    const below = loadRatio < c.targetUtilization - c.hysteresisBand;
    const belowBandTicks = below ? model.belowBandTicks + 1 : 0;
    let proposals: Map<string, Proposal>;
    if (loadRatio > c.targetUtilization + c.hysteresisBand) proposals = overload(views, observation);
    else if (below && belowBandTicks >= c.restoreAfterTicks) proposals = underload(views, observation);
    else proposals = new Map();

    return apply({ ...model, slopes, belowBandTicks, smoothedLoadRatio }, views, proposals, (v, p) => ({
      utilization: observation.utilization,
      loadRatio: Number.isFinite(observation.loadRatio) ? observation.loadRatio : feedbackLimits.multiplierMax,
      smoothedLoadRatio: Number.isFinite(observation.smoothedLoadRatio) ? observation.smoothedLoadRatio : feedbackLimits.multiplierMax,
      targetUtilization: c.targetUtilization,
      capacityCreditsPerSecond: observation.capacity,
      modelAdmittedCreditsPerSecond: observation.admittedTotal,
      admittedCreditsPerSecond: v.admitted,
      requestedCreditsPerSecond: v.requested,
      queueDepth: observation.queueDepth,
      p95LatencyMs: observation.p95LatencyMs,
      freshRegions: observation.freshRegions,
      previousMultiplier: v.multiplier,
      ...p.inputs,
    }));
  }

  /**
   * Above the band: remove the excess load, batch first, then standard, then critical (only the part
   * of its demand above the reserve). A tier's cut is what the excess still needs, up to what the tier
   * would shed at its floors; within a tier the remaining budget is divided by plan weight, so the
   * class furthest above its fair share gives up most. The multiplier moves in proportion to the cut
   * (admitted ∝ multiplier once limits bind), bounded by stepDownMax.
   */
  function overload(views: readonly ClassView[], o: Observation): Map<string, Proposal> {
    const proposals = new Map<string, Proposal>();
    const reserveCredits = c.criticalReserve * o.capacity;
    // Aim for the upper half of the band rather than through it: admission keeps lowering the load for
    // up to a rate period after a cut (users drain their burst allowance), so a cut aimed at the target
    // itself lands below it.
    let excess = o.capacity > 0 ? o.cutLoad - (c.targetUtilization + c.hysteresisBand / 2) * o.capacity : o.admittedTotal;
    for (const priority of shedOrder) {
      const tier = views.filter((v) => v.priority === priority);
      const floor = c.floors[priority];
      const sheddable = tier.map((v) => (v.admitted > 0 && v.multiplier > floor ? v.admitted * (1 - floor / v.multiplier) : 0));
      const tierAdmitted = sum(tier.map((v) => v.admitted));
      let tierSheddable = sum(sheddable);
      // Critical keeps its reserve: only its demand above the reserve can ever be cut.
      if (priority === 'critical') tierSheddable = Math.min(tierSheddable, Math.max(0, tierAdmitted - reserveCredits));
      const cut = Math.min(excess, tierSheddable);
      if (cut <= creditsEpsilon) continue;
      const shares = weightedFairShare(
        tierAdmitted - cut,
        tier.map((v, i) => ({ weight: v.weight, min: v.admitted - (sheddable[i] ?? 0), max: v.admitted })),
      );
      tier.forEach((v, i) => {
        const share = shares[i] ?? v.admitted;
        if (v.admitted <= creditsEpsilon || share >= v.admitted) return;
        const wanted = v.multiplier * (share / v.admitted);
        proposals.set(innerKey(v.plan, v.priority), {
          multiplier: Math.max(wanted, v.multiplier - c.stepDownMax, floor),
          reason: 'overload',
          inputs: { excessCreditsPerSecond: excess, fairShareCreditsPerSecond: share, reserveCreditsPerSecond: reserveCredits },
        });
      });
      excess -= cut;
    }
    // Load that admitted demand does not explain (work admission never saw, or a demand feed that lags)
    // still has to go: step the lowest non-critical tier that is above its floor.
    const unexplained = o.utilization * o.capacity - o.admittedTotal;
    if (excess > creditsEpsilon && unexplained > creditsEpsilon) {
      for (const priority of shedOrder.filter((p) => p !== 'critical')) {
        const floor = c.floors[priority];
        const tier = views.filter((v) => v.priority === priority && v.multiplier > floor && !proposals.has(innerKey(v.plan, v.priority)));
        if (tier.length === 0) continue;
        for (const v of tier) {
          proposals.set(innerKey(v.plan, v.priority), {
            multiplier: Math.max(v.multiplier - c.stepDownMax, floor),
            reason: 'overload',
            inputs: { excessCreditsPerSecond: excess, unexplainedCreditsPerSecond: unexplained, reserveCreditsPerSecond: reserveCredits },
          });
        }
        break;
      }
    }
    return proposals;
  }

  /**
   * Below the band: additive increase, critical first, then standard, then batch, each raise paid for
   * out of the headroom by the load it is expected to let in (at most the class's unmet demand). A
   * class whose demand is all admitted costs nothing to raise. Above 1 only while the fleet is idle.
   */
  function underload(views: readonly ClassView[], o: Observation): Map<string, Proposal> {
    const proposals = new Map<string, Proposal>();
    const idle = o.loadRatio < c.borrowBelowUtilization;
    const ceiling = idle ? c.borrowCap : 1;
    // Symmetrically, fill only up to the lower half of the band.
    let headroom = (c.targetUtilization - c.hysteresisBand / 2) * o.capacity - o.raiseLoad;
    // A raised limit lets each limited user through at once the burst the extra limit allows (one
    // rate period's worth, raiseBurstMs), on top of the higher rate: the tick after a raise carries
    // that much more, and the raise is paid for at that price so that it cannot overshoot the target.
    const firstTickFactor = 1 + c.raiseBurstMs / config.tickIntervalMs;
    for (const priority of restoreOrder) {
      // The smoothed load can say there is no room even when this tick was quiet: then nothing rises.
      if (headroom <= creditsEpsilon) break;
      const raises = views
        .filter((v) => v.priority === priority && v.multiplier < ceiling)
        .map((v) => {
          const step = Math.min(c.stepUpMax, ceiling - v.multiplier);
          // Admitted load grows in proportion to the multiplier while limits bind. A shed class has no
          // admitted load to scale, and admission never tightens a limit below 1 per user, so its first
          // step lets in more than proportion says: assume the larger of its whole request rate and
          // the slope last measured before it was shed, per unit of multiplier. Either way the first
          // tick carries the burst, and never more than the demand the class is being refused.
          const shed = v.multiplier === 0;
          const slope = !shed && v.admitted > creditsEpsilon ? v.admitted / v.multiplier : Math.max(v.requested, v.slope);
          const cost = Math.min(Math.max(0, v.requested - v.admitted), slope * step * firstTickFactor);
          return { view: v, step, cost };
        });
      // Classes already admitting share the headroom in proportion (a partial step is a smaller step).
      const partial = raises.filter((r) => r.view.multiplier > 0);
      const partialCost = sum(partial.map((r) => r.cost));
      const scale = partialCost <= headroom ? 1 : headroom / partialCost;
      const raised = partial.map((r) => ({ ...r, step: r.step * scale, cost: r.cost * scale }));
      headroom -= partialCost * scale;
      // A shed class comes back by a whole step or not at all (a sliver of a step out of shedding lets
      // in about as much as a whole one), heavier plans first, while the headroom lasts.
      const shed = raises.filter((r) => r.view.multiplier === 0).sort((a, b) => b.view.weight - a.view.weight);
      for (const r of shed) {
        if (r.cost > headroom) continue;
        raised.push(r);
        headroom -= r.cost;
      }
      for (const { view: v, step } of raised) {
        if (step <= 0) continue;
        const multiplier = v.multiplier + step;
        proposals.set(innerKey(v.plan, v.priority), {
          multiplier,
          reason: multiplier > 1 ? 'borrow' : 'recovery',
          inputs: { headroomCreditsPerSecond: headroom },
        });
      }
      // Strict priority on the way up too: demand this tier still cannot get because of its own cuts
      // has first call on the headroom, so a lower tier waits until it is served.
      const held = views.filter((v) => v.priority === priority && v.multiplier < 1);
      headroom -= sum(held.map((v) => Math.max(0, v.requested - v.admitted)));
    }
    return proposals;
  }

  /** No fresh sample: hold for holdMs after the data went stale, then step down to the safe defaults. */
  function staleTick(model: ModelState, nowMs: number): ModelTickResult {
    const silentForMs = nowMs - model.lastSampleAtMs;
    const s = config.staleSamples;
    const views: ClassView[] = classes.map(({ plan, priority }) => ({
      plan,
      priority,
      weight: config.plans[plan]?.weight ?? 1,
      multiplier: model.multipliers[innerKey(plan, priority)] ?? 1,
      admitted: 0,
      requested: 0,
      slope: 0,
    }));
    const proposals = new Map<string, Proposal>();
    if (silentForMs > s.staleAfterMs + s.holdMs) {
      for (const v of views) {
        const safe = s.safeDefaults[v.priority];
        // Only downwards: a multiplier already below its safe default stays where the controller put it.
        if (v.multiplier > safe) {
          proposals.set(innerKey(v.plan, v.priority), {
            multiplier: Math.max(safe, v.multiplier - s.stepPerTick),
            reason: 'stale_samples',
            inputs: { safeDefault: safe },
          });
        }
      }
    }
    return apply({ ...model, belowBandTicks: 0, smoothedLoadRatio: null }, views, proposals, (v, p) => ({
      silentForMs,
      staleAfterMs: s.staleAfterMs,
      holdMs: s.holdMs,
      previousMultiplier: v.multiplier,
      ...p.inputs,
    }));
  }

  function apply(
    model: ModelState,
    views: readonly ClassView[],
    proposals: ReadonlyMap<string, Proposal>,
    inputsOf: (v: ClassView, p: Proposal) => Record<string, number>,
  ): ModelTickResult {
    const multipliers: Record<string, number> = { ...model.multipliers };
    const changes: LimitChange[] = [];
    for (const v of views) {
      const key = innerKey(v.plan, v.priority);
      const proposal = proposals.get(key);
      // A non-finite proposal can only come from degenerate inputs (a capacity of 1e-300): keep the old value.
      if (proposal === undefined || !Number.isFinite(proposal.multiplier)) continue;
      const next = roundMultiplier(clamp(proposal.multiplier, 0, Math.max(c.borrowCap, v.multiplier)));
      if (next === v.multiplier) continue;
      multipliers[key] = next;
      changes.push({
        model: model.model,
        plan: v.plan,
        priority: v.priority,
        multiplier: next,
        reason: proposal.reason,
        inputs: roundInputs(inputsOf(v, proposal)),
      });
    }
    return { state: { ...model, multipliers }, changes };
  }

  function multipliers(state: ControllerState): ClassMultiplier[] {
    return state.models.flatMap((m) =>
      classes.map(({ plan, priority }) => ({ model: m.model, plan, priority, multiplier: m.multipliers[innerKey(plan, priority)] ?? 1 })),
    );
  }

  return { initialState, tick, multipliers };
}

interface ClassView {
  readonly plan: string;
  readonly priority: Priority;
  readonly weight: number;
  readonly multiplier: number;
  readonly admitted: number;
  readonly requested: number;
  /** Remembered admitted credits/s per unit of multiplier (0 when never measured). */
  readonly slope: number;
}

interface Observation {
  readonly utilization: number;
  readonly loadRatio: number;
  readonly smoothedLoadRatio: number;
  readonly capacity: number;
  readonly load: number;
  /** The load cuts are sized on: the smaller of this tick's and the smoothed one. */
  readonly cutLoad: number;
  /** The load raises are sized on: the larger of this tick's and the smoothed one. */
  readonly raiseLoad: number;
  readonly admittedTotal: number;
  readonly queueDepth: number;
  readonly p95LatencyMs: number;
  readonly freshRegions: number;
}

interface Proposal {
  readonly multiplier: number;
  readonly reason: FeedbackReason;
  readonly inputs: Readonly<Record<string, number>>;
}

interface ModelTickResult {
  readonly state: ModelState;
  readonly changes: readonly LimitChange[];
}

function innerKey(plan: string, priority: Priority): string {
  return `${plan}|${priority}`;
}

function isUsable(s: LoadSample): boolean {
  return (
    Number.isFinite(s.utilization) &&
    Number.isFinite(s.capacityCreditsPerSecond) &&
    Number.isFinite(s.sampledAtMs) &&
    Number.isFinite(s.queueDepth) &&
    Number.isFinite(s.p95LatencyMs) &&
    s.utilization >= 0 &&
    s.capacityCreditsPerSecond >= 0
  );
}

function nonNegative(value: number): number {
  return Number.isFinite(value) && value > 0 ? value : 0;
}

function clamp(value: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, value));
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

/** Inputs are published for people to read; six significant digits is all anyone reads. */
function roundInputs(inputs: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, Number.isFinite(v) ? Number(v.toPrecision(6)) : 0]));
}
