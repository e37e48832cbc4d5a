/**
 * The load-feedback process around the pure controller: resume from what was published, read samples
 * and decisions, tick on its own clock, publish changes, and score reputation periodically.
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { EVENTS, SOURCES, eventIdentity } from '@access/contracts';
import {
  AbuseSignalsSource,
  FeedbackLoop,
  FeedbackPublisher,
  ReputationJob,
  readCompactedTopic,
  restoredMultipliers,
  restoredReputation,
  type LoadFeedbackTopics,
} from '@access/load-feedback-adapters';
import type { FeedbackConfig } from '@access/load-feedback-domain';
import type { Clickhouse } from '@access/platform-clickhouse';
import { EventConsumer, EventPublisher, errorMessage, type EventProducer, type Kafka, type KafkaAdmin } from '@access/platform-kafka';
import { Counter, Gauge, Histogram, type Logger } from '@access/platform-observability';
import type { Registry } from 'prom-client';

export interface LoadFeedbackServiceOptions {
  readonly config: FeedbackConfig;
  readonly topics: LoadFeedbackTopics;
  readonly kafka: Kafka;
  readonly admin: KafkaAdmin;
  readonly producer: EventProducer;
  readonly clickhouse: Clickhouse;
  readonly logger: Logger;
  readonly metrics: Registry;
  /** 0: the reputation job does not run. */
  readonly reputationIntervalMs: number;
  readonly restoreTimeoutMs: number;
  readonly nowMs?: () => number;
}

/** The shortest gap between two ticks when overload brings a tick forward. */
const overloadTickGapMs = 1_000;

export class LoadFeedbackService {
  private loop: FeedbackLoop | null = null;
  private reputation: ReputationJob | null = null;
  private consumer: EventConsumer | null = null;
  private tickTimer: NodeJS.Timeout | undefined;
  private reputationTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  private running: Promise<unknown> = Promise.resolve();
  private readonly publisher: FeedbackPublisher;
  private readonly nowMs: () => number;
  private readonly instance = `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  private readonly m: ReturnType<typeof createMetrics>;

  constructor(private readonly options: LoadFeedbackServiceOptions) {
    this.nowMs = options.nowMs ?? Date.now;
    this.publisher = new FeedbackPublisher(new EventPublisher(options.producer), options.topics);
    this.m = createMetrics(options.metrics, () => this.loop);
  }

  /** Restored, consuming and ticking: what readiness reports. */
  get isReady(): boolean {
    return this.loop !== null && this.consumer !== null && this.consumer.isRunning && this.consumer.assignment.length > 0;
  }

  async start(): Promise<void> {
    const { admin, kafka, topics, logger, config } = this.options;
    const t0 = performance.now();
    // Resume where the last instance left off: admission already applies these multipliers, so the
    // controller must start from them, not from 1 (which would let a held-back class in at once).
    const [limits, reputation] = await Promise.all([
      readCompactedTopic({ kafka, admin, topic: topics.limits, groupId: `load-feedback-restore-limits-${this.instance}`, timeoutMs: this.options.restoreTimeoutMs }),
      readCompactedTopic({ kafka, admin, topic: topics.reputation, groupId: `load-feedback-restore-reputation-${this.instance}`, timeoutMs: this.options.restoreTimeoutMs }),
    ]);
    const restored = restoredMultipliers(limits.values());
    const users = restoredReputation(reputation.values());
    this.loop = new FeedbackLoop({ config, restored, nowMs: this.nowMs() });
    logger.info({ multipliers: restored.length, reputationUsers: users.size, ms: Math.round(performance.now() - t0) }, 'resumed from published state');

    if (this.options.reputationIntervalMs > 0) {
      this.reputation = new ReputationJob({
        config: config.reputation,
        source: new AbuseSignalsSource(this.options.clickhouse),
        publish: (updates) => this.publisher.publishReputation(updates),
        intervalMs: this.options.reputationIntervalMs,
        restored: users,
      });
    }

    // A group of its own per process, never committed: samples and demand are only worth reading live.
    const consumer = new EventConsumer(kafka, this.options.producer, {
      groupId: `load-feedback-${this.instance}`,
      topics: [topics.load, topics.admissions],
      fromBeginning: false,
      commitOffsets: false,
      maxWaitMs: 50,
      consumerName: 'load-feedback',
      source: SOURCES.loadFeedback,
      deadLetterTopic: topics.deadletter,
      onDeadLetter: (message, reason) => {
        this.m.events.inc({ type: 'poison', outcome: 'dead_lettered' });
        logger.warn({ topic: message.topic, partition: message.partition, offset: message.offset, reason }, 'dead-lettered a message');
      },
    });
    await consumer.start(async (events) => {
      const loop = this.loop;
      if (loop === null) return;
      const now = this.nowMs();
      let overloaded = false;
      for (const { event } of events) {
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
    });
    this.consumer = consumer;
    this.scheduleTick();
    if (this.reputation !== null) this.scheduleReputation(0);
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
      const result = await loop.tick(this.nowMs(), (changes) => this.publisher.publishLimits(changes));
      for (const c of result.changes) this.m.published.inc({ reason: c.reason });
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
    if (this.consumer !== null) {
      await this.consumer.stop().catch(() => undefined);
      await this.options.admin.deleteGroups([`load-feedback-${this.instance}`]).catch(() => undefined);
    }
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
