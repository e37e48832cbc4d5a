import type { Priority } from '../classes';
import type { ClassDemand, ControllerState, LimitChange, LoadController, LoadSample } from '../controller/load-controller';

/**
 * The simplest plant a load controller can drive, for fast tests: each class asks for `requested`
 * credits/s and its users' limits let through `limitAtOne` credits/s at multiplier 1, so
 * admitted = min(requested, multiplier · limitAtOne). That has the dead zone real limits have (cutting
 * a multiplier changes nothing until the limit binds). The closed-loop test uses the real admission
 * decision instead.
 */
export interface PlantClass {
  readonly plan: string;
  readonly priority: Priority;
  /** Credits/s asked for at tick `t`. */
  readonly requested: (t: number) => number;
  readonly limitAtOne: number;
}

export interface Plant {
  readonly model: string;
  readonly capacityCreditsPerSecond: number;
  readonly classes: readonly PlantClass[];
  /** Load on the fleet that admission never sees, in credits/s (default none). */
  readonly background?: (t: number) => number;
}

export interface PlantTick {
  readonly t: number;
  readonly utilization: number;
  readonly loadRatio: number;
  readonly admitted: Readonly<Record<string, number>>;
  readonly multipliers: Readonly<Record<string, number>>;
  readonly changes: readonly LimitChange[];
}

export const tickMs = 5000;

export function runPlant(
  controller: LoadController,
  plant: Plant,
  ticks: number,
  options: { state?: ControllerState; startMs?: number; silentFrom?: number } = {},
): { history: PlantTick[]; state: ControllerState } {
  const startMs = options.startMs ?? 0;
  let state = options.state ?? controller.initialState(startMs);
  const history: PlantTick[] = [];
  for (let t = 0; t < ticks; t++) {
    const nowMs = startMs + (t + 1) * tickMs;
    const multipliers = multipliersOf(controller, state, plant.model);
    const demand: ClassDemand[] = plant.classes.map((c) => {
      const requested = c.requested(t);
      const m = multipliers[`${c.plan}|${c.priority}`] ?? 1;
      return {
        model: plant.model,
        plan: c.plan,
        priority: c.priority,
        requestedCreditsPerSecond: requested,
        admittedCreditsPerSecond: Math.min(requested, m * c.limitAtOne),
      };
    });
    const load = demand.reduce((sum, d) => sum + d.admittedCreditsPerSecond, 0) + (plant.background?.(t) ?? 0);
    const loadRatio = load / plant.capacityCreditsPerSecond;
    const silent = options.silentFrom !== undefined && t >= options.silentFrom;
    const samples: LoadSample[] = silent
      ? []
      : [
          {
            model: plant.model,
            region: 'eu-1',
            utilization: Math.min(1, loadRatio),
            queueDepth: 0,
            p95LatencyMs: 1000,
            capacityCreditsPerSecond: plant.capacityCreditsPerSecond,
            sampledAtMs: nowMs,
          },
        ];
    const result = controller.tick(state, { samples, demand }, nowMs);
    state = result.state;
    history.push({
      t,
      utilization: Math.min(1, loadRatio),
      loadRatio,
      admitted: Object.fromEntries(demand.map((d) => [`${d.plan}|${d.priority}`, d.admittedCreditsPerSecond])),
      multipliers,
      changes: result.changes,
    });
  }
  return { history, state };
}

export function multipliersOf(controller: LoadController, state: ControllerState, model: string): Record<string, number> {
  return Object.fromEntries(
    controller
      .multipliers(state)
      .filter((m) => m.model === model)
      .map((m) => [`${m.plan}|${m.priority}`, m.multiplier]),
  );
}

/** How many times a series turns from rising to falling or back (flat steps do not count). */
export function directionChanges(series: readonly number[]): number {
  let changes = 0;
  let direction = 0;
  for (let i = 1; i < series.length; i++) {
    const delta = (series[i] ?? 0) - (series[i - 1] ?? 0);
    if (delta === 0) continue;
    const sign = Math.sign(delta);
    if (direction !== 0 && sign !== direction) changes++;
    direction = sign;
  }
  return changes;
}
