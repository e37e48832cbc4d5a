import { classKey, priorities, roundMultiplier } from '../classes';
import type { FeedbackConfig } from '../feedback-config';
import { feedbackLimits } from '../limits';
import { clamp, innerKey, isUsable } from './helpers';
import { tickModel } from './model-tick';
import type {
  ClassMultiplier,
  ControllerContext,
  ControllerInputs,
  ControllerState,
  LimitChange,
  LoadController,
  LoadSample,
  ModelState,
  TickResult,
} from './types';

export type {
  ClassDemand,
  ClassMultiplier,
  ControllerInputs,
  ControllerState,
  FeedbackReason,
  LimitChange,
  LoadController,
  LoadSample,
  TickResult,
} from './types';

/**
 * The load-feedback controller: bounded, hysteretic, priority-ordered and fair between plans.
 * Pure: time and inputs come in, the next state and the changes to publish come out.
 */
export function createLoadController(config: FeedbackConfig): LoadController {
  const ctx: ControllerContext = {
    config,
    c: config.controller,
    classes: Object.entries(config.plans).flatMap(([plan, p]) =>
      priorities.filter((priority) => p.priorities.includes(priority)).map((priority) => ({ plan, priority })),
    ),
    knownModels: new Set(config.models),
  };
  return {
    initialState: (nowMs, restored = []) => initialState(ctx, nowMs, restored),
    tick: (state, inputs, nowMs) => tick(ctx, state, inputs, nowMs),
    multipliers: (state) => multipliers(ctx, state),
  };
}

export function initialState(ctx: ControllerContext, nowMs: number, restored: readonly ClassMultiplier[] = []): ControllerState {
  const { config, c, classes } = ctx;
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

export function tick(ctx: ControllerContext, state: ControllerState, inputs: ControllerInputs, nowMs: number): TickResult {
  const samples = inputs.samples.slice(0, feedbackLimits.samplesPerTickMax);
  const demand = inputs.demand.slice(0, feedbackLimits.demandRowsPerTickMax);
  const changes: LimitChange[] = [];
  const models = state.models.map((modelState) => {
    const merged = mergeSamples(ctx, modelState, samples.filter((s) => s.model === modelState.model), nowMs);
    const next = tickModel(ctx, merged, demand.filter((d) => d.model === modelState.model), nowMs);
    changes.push(...next.changes);
    return next.state;
  });
  return { state: { models, lastTickAtMs: nowMs }, changes };
}

export function mergeSamples(ctx: ControllerContext, model: ModelState, samples: readonly LoadSample[], nowMs: number): ModelState {
  const { knownModels } = ctx;
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

export function multipliers(ctx: ControllerContext, state: ControllerState): ClassMultiplier[] {
  const { classes } = ctx;
  return state.models.flatMap((m) =>
    classes.map(({ plan, priority }) => ({ model: m.model, plan, priority, multiplier: m.multipliers[innerKey(plan, priority)] ?? 1 })),
  );
}
