/** The load controller's types: its inputs, state and output (public), and what a tick computes on the way (internal). */
import type { Priority, TrafficClass } from '../classes';
import type { ControllerConfig, FeedbackConfig } from '../feedback-config';

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

/** One model's part of the controller state. */
export interface ModelState {
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

/** What every step of the controller reads: the configuration and the classes the plans allow. */
export interface ControllerContext {
  readonly config: FeedbackConfig;
  readonly c: ControllerConfig;
  readonly classes: readonly { readonly plan: string; readonly priority: Priority }[];
  readonly knownModels: ReadonlySet<string>;
}

export interface ClassView {
  readonly plan: string;
  readonly priority: Priority;
  readonly weight: number;
  readonly multiplier: number;
  readonly admitted: number;
  readonly requested: number;
  /** Remembered admitted credits/s per unit of multiplier (0 when never measured). */
  readonly slope: number;
}

export interface Observation {
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

export interface Proposal {
  readonly multiplier: number;
  readonly reason: FeedbackReason;
  readonly inputs: Readonly<Record<string, number>>;
}

export interface ModelTickResult {
  readonly state: ModelState;
  readonly changes: readonly LimitChange[];
}
