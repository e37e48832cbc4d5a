/** One model's tick: observe its fleet and demand, propose, and apply the proposals within the bounds. */
import { roundMultiplier, type Priority } from '../classes';
import { feedbackLimits } from '../limits';
import { clamp, creditsEpsilon, innerKey, nonNegative, roundInputs, sum } from './helpers';
import { overload, underload } from './proposals';
import type { ClassDemand, ClassView, ControllerContext, LimitChange, LoadSample, ModelState, ModelTickResult, Observation, Proposal } from './types';

export function tickModel(ctx: ControllerContext, model: ModelState, demand: readonly ClassDemand[], nowMs: number): ModelTickResult {
  const { config, c } = ctx;
  const fresh = model.regions.filter((s) => nowMs - s.sampledAtMs <= config.staleSamples.staleAfterMs);
  if (fresh.length === 0) return staleTick(ctx, model, nowMs);

  const { views, slopes, observation } = observe(ctx, model, fresh, demand);
  const { loadRatio, smoothedLoadRatio } = observation;

  // Inside the band nothing moves: this is what keeps the loop from chasing noise. Cuts act on the
  // first tick above it; raises wait until the fleet has been below it for restoreAfterTicks, so
  // that one quiet tick does not let in load the next tick has to cut again.
  const below = loadRatio < c.targetUtilization - c.hysteresisBand;
  const belowBandTicks = below ? model.belowBandTicks + 1 : 0;
  let proposals: Map<string, Proposal>;
  if (loadRatio > c.targetUtilization + c.hysteresisBand) proposals = overload(ctx, views, observation);
  else if (below && belowBandTicks >= c.restoreAfterTicks) proposals = underload(ctx, views, observation);
  else proposals = new Map();

  return apply(ctx, { ...model, slopes, belowBandTicks, smoothedLoadRatio }, views, proposals, (v, p) => ({
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

/** What one tick sees of a model: its classes with their demand, the measured slopes, and the load. */
function observe(
  ctx: ControllerContext,
  model: ModelState,
  fresh: readonly LoadSample[],
  demand: readonly ClassDemand[],
): { views: ClassView[]; slopes: Record<string, number>; observation: Observation } {
  const { config, c, classes } = ctx;
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
  return { views, slopes, observation };
}

/** No fresh sample: hold for holdMs after the data went stale, then step down to the safe defaults. */
export function staleTick(ctx: ControllerContext, model: ModelState, nowMs: number): ModelTickResult {
  const { config, classes } = ctx;
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
  return apply(ctx, { ...model, belowBandTicks: 0, smoothedLoadRatio: null }, views, proposals, (v, p) => ({
    silentForMs,
    staleAfterMs: s.staleAfterMs,
    holdMs: s.holdMs,
    previousMultiplier: v.multiplier,
    ...p.inputs,
  }));
}

export function apply(
  ctx: ControllerContext,
  model: ModelState,
  views: readonly ClassView[],
  proposals: ReadonlyMap<string, Proposal>,
  inputsOf: (v: ClassView, p: Proposal) => Record<string, number>,
): ModelTickResult {
  const { c } = ctx;
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
