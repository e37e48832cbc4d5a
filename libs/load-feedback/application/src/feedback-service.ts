/**
 * The load-feedback use case around the pure controller: resume from what was published, read samples
 * and decisions, tick on its own clock, publish changes, and score reputation periodically. Kafka and
 * ClickHouse are behind `FeedbackPorts`.
 */
import { EVENTS, eventIdentity, type AnyAccessEvent } from '@access/contracts';
import type { ClassMultiplier, FeedbackConfig, LimitChange, LoadSample } from '@access/load-feedback-domain';
import { Counter, Gauge, Histogram, type Logger, type Registry } from '@access/platform-observability';
import { FeedbackLoop } from './feedback-loop';
import { ReputationJob, type ReputationUpdate, type SignalsSource, type UserReputation } from './reputation-job';

/** What load-feedback published before it (re)started: admission already applies it. */
export interface PublishedState {
  readonly multipliers: readonly ClassMultiplier[];
  readonly reputation: ReadonlyMap<string, UserReputation>;
  /** The last published change of each class, with its reason and inputs (for `view()`). */
  readonly lastChanges?: readonly (ClassMultiplier & { readonly reason: string; readonly inputs: LimitChange['inputs']; readonly atMs: number })[];
}

/** What `GET /v1/limits` answers: the multipliers in force, why each last moved, and the controller's inputs. */
export interface LimitsView {
  readonly asOf: string;
  readonly multipliers: {
    model: string;
    plan: string;
    priority: string;
    multiplier: number;
    /** The last change this process published or read back at start; null when it has seen none. */
    reason: string | null;
    inputs: Readonly<Record<string, number>> | null;
    changedAt: string | null;
  }[];
  readonly samples: readonly LoadSample[];
  readonly staleModels: readonly string[];
  /** Users whose factor is not neutral, furthest from 1 first, at most `reputationRowsMax`. */
  readonly reputation: { accountId: string; userId: string; factor: number; since: string }[];
}

/** Reputation rows `GET /v1/limits` returns at most (the console shows the most active users). */
export const reputationRowsMax = 500;

/** The service's edges (implemented over Kafka and ClickHouse in @access/load-feedback-adapters). */
export interface FeedbackPorts {
  /** Reads back what was published (the compacted limits and reputation topics). */
  restore(): Promise<PublishedState>;
  /** Load samples and admission decisions, live; `handle` gets each batch. */
  readonly inputs: {
    start(handle: (events: readonly AnyAccessEvent[]) => Promise<void>): Promise<void>;
    stop(): Promise<void>;
    /** Consuming, with partitions assigned. */
    readonly isConsuming: boolean;
  };
  publishLimits(changes: readonly LimitChange[]): Promise<void>;
  publishReputation(updates: readonly ReputationUpdate[]): Promise<void>;
  /** Usage history for reputation (null: no reputation job). */
  readonly signals: SignalsSource | null;
}

export interface LoadFeedbackServiceOptions {
  readonly config: FeedbackConfig;
  readonly ports: FeedbackPorts;
  readonly logger: Logger;
  readonly metrics: Registry;
  /** 0: the reputation job does not run. */
  readonly reputationIntervalMs: number;
  readonly nowMs?: () => number;
}

const errorMessage = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** The shortest gap between two ticks when overload brings a tick forward. */
const overloadTickGapMs = 1_000;

export class LoadFeedbackService {
  private loop: FeedbackLoop | null = null;
  private reputation: ReputationJob | null = null;
  private consuming = false;
  private tickTimer: NodeJS.Timeout | undefined;
  private reputationTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  private running: Promise<unknown> = Promise.resolve();
  private readonly nowMs: () => number;
  private readonly m: ReturnType<typeof createMetrics>;

  /** The last change per class (`model|plan|priority`), so that "why is this multiplier what it is?" has an answer. */
  private readonly lastChanges = new Map<string, { change: { reason: string; inputs: LimitChange['inputs'] }; atMs: number }>();

  constructor(private readonly options: LoadFeedbackServiceOptions) {
    this.nowMs = options.nowMs ?? Date.now;
    this.m = createMetrics(options.metrics, () => this.loop);
  }

  /** Restored, consuming and ticking: what readiness reports. */
  get isReady(): boolean {
    return this.loop !== null && this.consuming && this.options.ports.inputs.isConsuming;
  }

  /** The state operators look at (served by `GET /v1/limits`); null until restored. */
  view(): LimitsView | null {
    const loop = this.loop;
    if (loop === null) return null;
    const nowMs = this.nowMs();
    const multipliers = loop.multipliers().map((m) => {
      const last = this.lastChanges.get(`${m.model}|${m.plan}|${m.priority}`);
      return {
        model: m.model,
        plan: m.plan,
        priority: m.priority,
        multiplier: m.multiplier,
        reason: last?.change.reason ?? null,
        inputs: last?.change.inputs ?? null,
        changedAt: last === undefined ? null : new Date(last.atMs).toISOString(),
      };
    });
    const reputation = [...(this.reputation?.factors() ?? new Map<string, UserReputation>())]
      .map(([key, r]) => {
        const bar = key.indexOf('|');
        return { accountId: key.slice(0, bar), userId: key.slice(bar + 1), factor: r.factor, since: new Date(r.atMs).toISOString() };
      })
      .sort((a, b) => Math.abs(b.factor - 1) - Math.abs(a.factor - 1))
      .slice(0, reputationRowsMax);
    return { asOf: new Date(nowMs).toISOString(), multipliers, samples: loop.samples(), staleModels: loop.staleModels(nowMs), reputation };
  }

  async start(): Promise<void> {
    const { ports, logger, config } = this.options;
    const t0 = performance.now();
    // Resume where the last instance left off: admission already applies these multipliers, so the
    // controller must start from them, not from 1 (which would let a held-back class in at once).
    const restored = await ports.restore();
    for (const c of restored.lastChanges ?? []) this.lastChanges.set(`${c.model}|${c.plan}|${c.priority}`, { change: c, atMs: c.atMs });
    this.loop = new FeedbackLoop({ config, restored: restored.multipliers, nowMs: this.nowMs() });
    logger.info({ multipliers: restored.multipliers.length, reputationUsers: restored.reputation.size, ms: Math.round(performance.now() - t0) }, 'resumed from published state');

    if (this.options.reputationIntervalMs > 0 && ports.signals !== null) {
      this.reputation = new ReputationJob({
        config: config.reputation,
        source: ports.signals,
        publish: (updates) => ports.publishReputation(updates),
        intervalMs: this.options.reputationIntervalMs,
        restored: restored.reputation,
      });
    }
    await ports.inputs.start((events) => this.onEvents(events));
    this.consuming = true;
    this.scheduleTick();
    if (this.reputation !== null) this.scheduleReputation(0);
  }

  /** Counts and applies a batch of samples and decisions; an overloaded sample brings the tick forward. */
  private async onEvents(events: readonly AnyAccessEvent[]): Promise<void> {
    const loop = this.loop;
    if (loop === null) return;
    const now = this.nowMs();
    let overloaded = false;
    for (const event of events) {
      switch (event.type) {
        case EVENTS.loadSampled:
          this.m.events.inc({ type: 'load.sampled', outcome: loop.onSample(event.data, Date.parse(event.time)) ? 'used' : 'ignored' });
          overloaded ||= event.data.utilization > this.overloadThreshold;
          break;
        case EVENTS.admissionDecided:
          this.m.events.inc({ type: 'admission.decided', outcome: loop.onDecision(eventIdentity(event), event.data, now) });
          break;
        default:
          // Anything else on these topics is not load-feedback's input.
          this.m.events.inc({ type: 'other', outcome: 'ignored' });
      }
    }
    if (overloaded) this.tickSoonOnOverload();
  }

  /** Counts a message the inputs dead-lettered (its topic carried something that is not a valid event). */
  deadLettered(): void {
    this.m.events.inc({ type: 'poison', outcome: 'dead_lettered' });
  }

  /** A sample above target + band: cuts must not wait for the clock (issue 6: admission reacts within 2 s). */
  private get overloadThreshold(): number {
    const c = this.options.config.controller;
    return c.targetUtilization + c.hysteresisBand;
  }

  private lastTickAtMs = 0;
  private ticking = false;

  /**
   * Overload is answered on the sample that shows it rather than at the next tick of the clock: the scheduled
   * tick is brought forward, at most once per `overloadTickGapMs` (1 s) so that a stream of overloaded samples
   * cannot make the controller step faster than one step per second. Raises stay on the clock.
   */
  private tickSoonOnOverload(): void {
    if (this.stopping || this.ticking) return;
    const sinceLastMs = Date.now() - this.lastTickAtMs;
    if (sinceLastMs < overloadTickGapMs) return;
    clearTimeout(this.tickTimer);
    this.runTickThenSchedule();
  }

  private runTickThenSchedule(): void {
    this.ticking = true;
    this.lastTickAtMs = Date.now();
    this.running = this.tick().finally(() => {
      this.ticking = false;
      this.scheduleTick();
    });
  }

  private scheduleTick(): void {
    if (this.stopping) return;
    // Self-scheduling, so a tick whose publish is slow is never overlapped by the next one.
    clearTimeout(this.tickTimer);
    this.tickTimer = setTimeout(() => this.runTickThenSchedule(), this.options.config.tickIntervalMs);
  }

  private async tick(): Promise<void> {
    const loop = this.loop;
    if (loop === null) return;
    const end = this.m.tickSeconds.startTimer();
    try {
      const result = await loop.tick(this.nowMs(), (changes) => this.options.ports.publishLimits(changes));
      const atMs = this.nowMs();
      for (const c of result.changes) {
        this.m.published.inc({ reason: c.reason });
        this.lastChanges.set(`${c.model}|${c.plan}|${c.priority}`, { change: c, atMs });
      }
      this.m.ticks.inc({ outcome: 'ok' });
      if (result.changes.length > 0) {
        this.options.logger.info(
          { changes: result.changes.map((c) => ({ class: `${c.model}|${c.plan}|${c.priority}`, multiplier: c.multiplier, reason: c.reason })) },
          'limits adjusted',
        );
      }
    } catch (error) {
      // Nothing was believed published: the next tick computes the changes again.
      this.m.ticks.inc({ outcome: 'publish_failed' });
      this.options.logger.error({ err: errorMessage(error) }, 'publishing limits failed; retrying at the next tick');
    } finally {
      end();
    }
  }

  private scheduleReputation(delayMs: number): void {
    if (this.stopping || this.reputation === null) return;
    this.reputationTimer = setTimeout(() => {
      this.running = this.runReputation().finally(() => this.scheduleReputation(this.options.reputationIntervalMs));
    }, delayMs);
  }

  private async runReputation(): Promise<void> {
    const job = this.reputation;
    if (job === null) return;
    try {
      const { rows, published } = await job.run(this.nowMs());
      this.m.reputationRuns.inc({ outcome: 'ok' });
      this.m.reputationPublished.inc(published);
      this.m.reputationUsers.set(job.remembered);
      this.options.logger.debug({ rows, published }, 'reputation scored');
    } catch (error) {
      this.m.reputationRuns.inc({ outcome: 'failed' });
      this.options.logger.warn({ err: errorMessage(error) }, 'reputation run failed; retrying at the next run');
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.tickTimer);
    clearTimeout(this.reputationTimer);
    await this.running.catch(() => undefined);
    if (this.consuming) await this.options.ports.inputs.stop().catch(() => undefined);
  }
}

function createMetrics(registry: Registry, loop: () => FeedbackLoop | null) {
  new Gauge({
    name: 'load_feedback_multiplier',
    help: 'Load multiplier in force per (model, plan, priority): what admission applies',
    labelNames: ['model', 'plan', 'priority'],
    registers: [registry],
    collect() {
      for (const m of loop()?.multipliers() ?? []) this.set({ model: m.model, plan: m.plan, priority: m.priority }, m.multiplier);
    },
  });
  new Gauge({
    name: 'load_feedback_stale_models',
    help: 'Models without a fresh load sample (their multipliers are held, then stepped down to safe defaults)',
    registers: [registry],
    collect() {
      this.set(loop()?.staleModels(Date.now()).length ?? 0);
    },
  });
  return {
    events: new Counter({ name: 'load_feedback_events_total', help: 'Events read, by type and what was done with them', labelNames: ['type', 'outcome'], registers: [registry] }),
    ticks: new Counter({ name: 'load_feedback_ticks_total', help: 'Controller ticks, by outcome', labelNames: ['outcome'], registers: [registry] }),
    tickSeconds: new Histogram({ name: 'load_feedback_tick_duration_seconds', help: 'One tick: controller and publishing', buckets: [0.001, 0.005, 0.02, 0.1, 0.5, 2], registers: [registry] }),
    published: new Counter({ name: 'load_feedback_limits_published_total', help: 'limits.adjusted events published, by reason', labelNames: ['reason'], registers: [registry] }),
    reputationRuns: new Counter({ name: 'load_feedback_reputation_runs_total', help: 'Reputation job runs, by outcome', labelNames: ['outcome'], registers: [registry] }),
    reputationPublished: new Counter({ name: 'load_feedback_reputation_published_total', help: 'reputation.changed events published', registers: [registry] }),
    reputationUsers: new Gauge({ name: 'load_feedback_reputation_users', help: 'Users whose factor is not neutral (remembered)', registers: [registry] }),
  };
}
