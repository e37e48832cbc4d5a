import type { AdmissionDecidedV1, LoadSampledV1 } from '@access/contracts';
import {
  createLoadController,
  type ClassMultiplier,
  type ControllerState,
  type FeedbackConfig,
  type LimitChange,
  type LoadController,
  type LoadSample,
} from '@access/load-feedback-domain';
import { DemandWindow, type RecordOutcome } from './demand-window';
import { applicationLimits } from './limits';

export interface FeedbackLoopOptions {
  readonly config: FeedbackConfig;
  /** The multipliers last published (read back from access.limits.v1 at start). */
  readonly restored: readonly ClassMultiplier[];
  readonly nowMs: number;
  /** Width of the demand window; the controller's tick interval unless a test says otherwise. */
  readonly demandWindowMs?: number;
}

export interface LoopTick {
  readonly changes: readonly LimitChange[];
  /** Models whose newest sample is older than staleAfterMs at this tick. */
  readonly staleModels: readonly string[];
}

/**
 * The service's state around the pure controller: the newest sample per (model, region), demand over
 * the last window, and the controller state. `tick` runs the controller and hands the changes to
 * `publish`; the new state is kept only once `publish` resolved, so a change Kafka did not take is
 * computed again at the next tick instead of being believed published.
 */
export class FeedbackLoop {
  private readonly controller: LoadController;
  private state: ControllerState;
  private readonly latestSamples = new Map<string, LoadSample>();
  private readonly demandWindow: DemandWindow;
  private readonly models: ReadonlySet<string>;
  private readonly startedAtMs: number;

  constructor(private readonly options: FeedbackLoopOptions) {
    this.controller = createLoadController(options.config);
    this.state = this.controller.initialState(options.nowMs, options.restored);
    this.demandWindow = new DemandWindow(options.demandWindowMs ?? options.config.tickIntervalMs, options.nowMs);
    this.models = new Set(options.config.models);
    this.startedAtMs = options.nowMs;
  }

  /**
   * Keeps the newest sample of each (model, region); returns false for a model not configured. `sampledAtMs` is the
   * event's CloudEvent `time`, which the contract makes the sample time.
   */
  onSample(data: LoadSampledV1, sampledAtMs: number): boolean {
    if (!this.models.has(data.model)) return false;
    const key = `${data.model}|${data.region}`;
    const sample: LoadSample = {
      model: data.model,
      region: data.region,
      utilization: data.utilization,
      queueDepth: data.queueDepth,
      p95LatencyMs: data.p95LatencyMs,
      capacityCreditsPerSecond: data.capacityCreditsPerSecond,
      sampledAtMs,
    };
    const known = this.latestSamples.get(key);
    if (known !== undefined && known.sampledAtMs > sample.sampledAtMs) return true;
    if (known === undefined && this.latestSamples.size >= applicationLimits.samplesKeptMax) return false;
    this.latestSamples.set(key, sample);
    return true;
  }

  onDecision(eventId: string, data: AdmissionDecidedV1, nowMs: number): RecordOutcome | 'unknown_model' {
    if (!this.models.has(data.model)) return 'unknown_model';
    return this.demandWindow.record(
      {
        id: eventId,
        model: data.model,
        plan: data.plan,
        priority: data.priority,
        admitted: data.decision === 'admitted',
        estimatedCredits: data.estimatedCredits,
        atMs: Date.parse(data.decidedAt),
      },
      nowMs,
    );
  }

  async tick(nowMs: number, publish: (changes: readonly LimitChange[]) => Promise<void>): Promise<LoopTick> {
    // Every tick sees the newest sample of every region (the controller ignores ones it already has),
    // so a tick whose publish failed loses nothing by being repeated.
    const result = this.controller.tick(this.state, { samples: [...this.latestSamples.values()], demand: this.demandWindow.demand(nowMs) }, nowMs);
    if (result.changes.length > 0) await publish(result.changes);
    this.state = result.state;
    return { changes: result.changes, staleModels: this.staleModels(nowMs) };
  }

  multipliers(): ClassMultiplier[] {
    return this.controller.multipliers(this.state);
  }

  /** The newest sample of each (model, region): the controller's load inputs, for operators. */
  samples(): LoadSample[] {
    return [...this.latestSamples.values()];
  }

  /** Models without a fresh sample now (a fleet never heard from counts from the service's start). */
  staleModels(nowMs: number): string[] {
    const staleAfterMs = this.options.config.staleSamples.staleAfterMs;
    return [...this.models].filter((model) => {
      let newest = Number.NEGATIVE_INFINITY;
      for (const s of this.latestSamples.values()) if (s.model === model) newest = Math.max(newest, s.sampledAtMs);
      if (newest === Number.NEGATIVE_INFINITY) return nowMs - this.startedAtMs > staleAfterMs;
      return nowMs - newest > staleAfterMs;
    });
  }

  get demandWindowSize() {
    return this.demandWindow.size;
  }
}
