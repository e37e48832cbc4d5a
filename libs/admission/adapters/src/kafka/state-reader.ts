import type { AdmissionService } from '@access/admission-application';
import { CAUSED_AT_HEADER, EVENTS, SOURCES, type AnyAccessEvent } from '@access/contracts';
import { deadLetterMessage, decodeEvent, RawBatchConsumer, type BatchContext, type ConsumedMessage, type EventProducer, type Kafka, type KafkaAdmin } from '@access/platform-kafka';
import type { Logger } from '@access/platform-observability';
import type { AdmissionTopics } from './topics';

export interface StateReaderOptions {
  readonly kafka: Kafka;
  readonly admin: KafkaAdmin;
  /** For dead letters of poison messages that arrive live. */
  readonly producer: EventProducer;
  readonly service: AdmissionService;
  readonly topics: AdmissionTopics;
  /** How far back admissions, completions and ledger reservations are replayed (replayLookbackMs). */
  readonly lookbackMs: number;
  /** A group of its own per process: this reader never commits, it rebuilds state from the log at every start. */
  readonly groupId: string;
  /**
   * This process's replica id, which it puts in the REPLICA_HEADER of its own decisions: those are already applied
   * when they are read back, and are skipped without being parsed. Decisions of other replicas are applied live.
   */
  readonly replicaId: string;
  readonly nowMs: () => number;
  readonly logger: Logger;
  /** Called for every event applied or buffered, and for poison (type 'poison'), for metrics. */
  readonly onEvent?: (type: string) => void;
  /**
   * Called, once caught up, for every balance applied that carries the ledger's `access-caused-at` header: `ms`
   * is `nowMs()` minus that time (when the completion or decision that changed the balance was published), i.e.
   * how stale admission's view of the balance was. The header is a Kafka timestamp set by the completion's producer,
   * so that clock and `nowMs` must agree (same machine or NTP): skew adds to the figure.
   */
  readonly onBalanceFreshness?: (ms: number) => void;
}

/** The header an admission replica puts on each decision it publishes: its replica id. */
export const REPLICA_HEADER = 'access-replica';

/**
 * The reader's consumer group has one member, this process. Its session is short so that a member kafkajs replaced
 * (it restarts a consumer that failed while the broker's group coordinator was loading, after a broker restart) is
 * dropped soon: until then the new member's join waits, the reader reads nothing, and a partition being taken over
 * waits for its catch-up (30 s with kafkajs's default session, 5-6 s with 6 s, measured by the fault suite's Kafka
 * restart). A broker must allow it (group.min.session.timeout.ms ≤ 2 s), as it must allow the replica group's 1 s.
 */
export const stateReaderSessionTimeoutMs = 2_000;

/**
 * Everything admission decides with, read from Kafka into memory before the first request and kept
 * current afterwards, with one consumer:
 *
 * - `access.balances.v1`, `access.limits.v1`, `access.reputation.v1` (compacted) from the beginning,
 *   applied as they come (each is the latest value per key; stale versions are ignored by the domain);
 * - `access.admissions.v1`, `access.usage.v1`, `access.ledger.v1` from `lookbackMs` ago (the offsets at
 *   that time): until caught up they are buffered and then replayed in time order, so slots, rate and
 *   allowance windows, holds and the idempotency cache are what they were before the restart.
 *
 * Caught up = every partition reached the high watermark it had when the reader started. From then on,
 * completions, ledger reservations and the decisions of other replicas are applied live, so that this replica is a
 * warm standby for every partition (docs/scaling.md); its own decisions (REPLICA_HEADER) are skipped. Positions
 * count transaction markers (decisions are written in transactions, admission's fence), and `waitForPosition` lets a
 * replica taking a partition over wait until it has applied everything its previous owner committed.
 */
export class StateReader {
  private readonly consumer: RawBatchConsumer;
  /** topic:partition → high watermark at start, for partitions with something to read. */
  private readonly pending = new Map<string, bigint>();
  /** topic:partition → high watermark at start, for all partitions (what is older is replay, not live). */
  private readonly ends = new Map<string, bigint>();
  /** topic:partition → first offset to read (the look-back topics). */
  private readonly starts = new Map<string, bigint>();
  private readonly positioned = new Set<string>();
  /** Partitions whose position jumped to the look-back start: position reports of the skipped batch are not real. */
  private readonly seeking = new Set<string>();
  /** topic:partition → next offset this reader reads (transaction markers included). */
  private readonly positions = new Map<string, bigint>();
  private readonly positionWaiters = new Map<string, { offset: bigint; resolve: () => void }[]>();
  private replaying = true;
  private resolveCaughtUp: () => void = () => undefined;
  readonly caughtUp: Promise<void>;
  private replayPoison = 0;

  constructor(private readonly options: StateReaderOptions) {
    this.caughtUp = new Promise((resolve) => (this.resolveCaughtUp = resolve));
    const t = options.topics;
    this.consumer = new RawBatchConsumer(options.kafka, {
      groupId: options.groupId,
      topics: [t.balances, t.limits, t.reputation, t.admissions, t.usage, t.ledger],
      fromBeginning: true,
      commitOffsets: false,
      sessionTimeoutMs: stateReaderSessionTimeoutMs,
      maxWaitMs: 50,
      onPosition: (topic, partition, next) => this.onPosition(`${topic}:${partition}`, next),
    });
  }

  get isCaughtUp(): boolean {
    return !this.replaying;
  }

  get isRunning(): boolean {
    return this.consumer.isRunning;
  }

  /** Partitions not yet read up to their start high watermark (for logs and the readiness detail). */
  get lagging(): string[] {
    return [...this.pending.keys()];
  }

  async start(): Promise<void> {
    const { admin, topics: t } = this.options;
    const sinceMs = this.options.nowMs() - this.options.lookbackMs;
    for (const topic of [t.balances, t.limits, t.reputation]) {
      const [low, high] = await Promise.all([admin.lowWatermarks(topic), admin.highWatermarks(topic)]);
      for (const [partition, end] of high) this.track(`${topic}:${partition}`, low.get(partition) ?? 0n, end);
    }
    for (const topic of [t.admissions, t.usage, t.ledger]) {
      const [from, high] = await Promise.all([admin.offsetsAtTime(topic, sinceMs), admin.highWatermarks(topic)]);
      for (const [partition, end] of high) {
        const start = from.get(partition) ?? 0n;
        this.starts.set(`${topic}:${partition}`, start);
        this.positions.set(`${topic}:${partition}`, start);
        this.track(`${topic}:${partition}`, start, end);
      }
    }
    this.options.logger.info({ partitionsToReplay: this.pending.size, sinceMs }, 'reading state from Kafka');
    await this.consumer.start((messages, context) => this.onBatch(messages, context));
    if (this.pending.size === 0) this.finish();
  }

  async stop(): Promise<void> {
    await this.consumer.stop();
    await this.options.admin.deleteGroups([this.options.groupId]).catch(() => undefined);
  }

  /** The next offset this reader reads in a partition of a look-back topic (undefined before start). */
  positionOf(topic: string, partition: number): bigint | undefined {
    return this.positions.get(`${topic}:${partition}`);
  }

  /** Resolves once this reader has applied everything below `offset` in the partition. */
  waitForPosition(topic: string, partition: number, offset: bigint): Promise<void> {
    const key = `${topic}:${partition}`;
    if ((this.positions.get(key) ?? -1n) >= offset) return Promise.resolve();
    return new Promise((resolve) => {
      const list = this.positionWaiters.get(key) ?? [];
      list.push({ offset, resolve });
      this.positionWaiters.set(key, list);
    });
  }

  private onPosition(key: string, next: bigint): void {
    if (this.seeking.has(key)) return;
    const known = this.positions.get(key);
    if (known !== undefined && next <= known) return;
    this.positions.set(key, next);
    const waiters = this.positionWaiters.get(key);
    if (waiters !== undefined) {
      const still = waiters.filter((w) => {
        if (next < w.offset) return true;
        w.resolve();
        return false;
      });
      if (still.length === 0) this.positionWaiters.delete(key);
      else this.positionWaiters.set(key, still);
    }
    const target = this.pending.get(key);
    if (target !== undefined && next >= target) {
      this.pending.delete(key);
      if (this.pending.size === 0) this.finish();
    }
  }

  private track(key: string, start: bigint, end: bigint): void {
    this.ends.set(key, end);
    if (end > start) this.pending.set(key, end);
  }

  private onBatch(messages: ConsumedMessage[], context: BatchContext): Promise<void> {
    const key = `${context.topic}:${context.partition}`;
    const start = this.starts.get(key);
    const first = messages[0];
    if (first === undefined) return Promise.resolve();
    if (start !== undefined && !this.positioned.has(key)) {
      this.positioned.add(key);
      // The group starts at the beginning; jump to the look-back offset once, instead of reading history.
      if (BigInt(first.offset) < start) {
        this.seeking.add(key);
        context.seek(start.toString());
        return Promise.resolve();
      }
    }
    this.seeking.delete(key);
    const end = this.ends.get(key) ?? 0n;
    const poison: { message: ConsumedMessage; reason: string }[] = [];
    for (const message of messages) {
      const offset = BigInt(message.offset);
      if (start !== undefined && offset < start) continue;
      const reason = this.handle(message);
      if (reason === null) continue;
      this.options.onEvent?.('poison');
      // Poison older than the start was there before this process and was dead-lettered by its
      // predecessor (every process rereads it); only what arrives live is dead-lettered here.
      if (offset >= end) poison.push({ message, reason });
      else this.replayPoison++;
    }
    // Caught-up tracking happens in onPosition, which also counts the transaction markers no handler sees.
    return poison.length === 0 ? Promise.resolve() : this.deadLetter(poison);
  }

  /** Applies or buffers one message; returns why it is poison, or null. */
  private handle(message: ConsumedMessage): string | null {
    // This replica's own decision, applied when it was made.
    if (message.headers[REPLICA_HEADER] === this.options.replicaId && message.topic === this.options.topics.admissions) return null;
    // Types are not checked against topics here: the reader applies what it knows and ignores the rest.
    const parsed = decodeEvent(message, { checkTopic: false });
    if (!parsed.ok) return parsed.reason;
    this.apply(parsed.event);
    this.options.onEvent?.(parsed.event.type);
    // Live only: during the replay the age of a balance is how long ago it was written, not how late it arrived.
    if (parsed.event.type === EVENTS.balanceChanged && !this.replaying && this.options.onBalanceFreshness !== undefined) {
      const causedAtMs = Number(message.headers[CAUSED_AT_HEADER]);
      if (Number.isSafeInteger(causedAtMs) && causedAtMs > 0) this.options.onBalanceFreshness(this.options.nowMs() - causedAtMs);
    }
    return null;
  }

  private apply(event: AnyAccessEvent): void {
    const service = this.options.service;
    switch (event.type) {
      case EVENTS.balanceChanged:
        service.applyBalance(event.data);
        return;
      case EVENTS.limitsAdjusted:
        service.applyLimits(event.data);
        return;
      case EVENTS.reputationChanged:
        service.applyReputation(event.data);
        return;
      case EVENTS.admissionDecided:
        if (this.replaying) service.bufferReplay({ kind: 'decided', timeMs: Date.parse(event.data.decidedAt), data: event.data });
        else service.applyDecided(event.data);
        return;
      case EVENTS.usageRequestCompleted:
        if (this.replaying) service.bufferReplay({ kind: 'completed', timeMs: Date.parse(event.time), data: event.data });
        else service.applyCompleted(event.data);
        return;
      case EVENTS.creditsReserved:
      case EVENTS.reservationSettled:
      case EVENTS.reservationVoided:
      case EVENTS.reservationExpired: {
        const { admissionId, version, occurredAt } = event.data;
        if (this.replaying) service.bufferReplay({ kind: 'reserved', timeMs: Date.parse(occurredAt), admissionId, version });
        else service.applyLedgerPosition(admissionId, version);
        return;
      }
      case EVENTS.creditsGranted:
      case EVENTS.grantExpired:
      case EVENTS.creditsAdjusted:
      case EVENTS.loadSampled:
      case EVENTS.deadletterRecorded:
        // Balances carry their effect; the rest is not admission's input.
        return;
      default: {
        const _exhaustive: never = event;
        return _exhaustive;
      }
    }
  }

  private finish(): void {
    if (!this.replaying) return;
    const t0 = performance.now();
    const { applied } = this.options.service.finishReplay();
    this.replaying = false;
    this.options.logger.info(
      { replayedEvents: applied, replayMs: Math.round(performance.now() - t0), poisonSkipped: this.replayPoison, stats: this.options.service.state.stats() },
      'state caught up; deciding',
    );
    this.resolveCaughtUp();
  }

  private async deadLetter(items: { message: ConsumedMessage; reason: string }[]): Promise<void> {
    const options = { consumer: 'admission-state', source: SOURCES.admission, topic: this.options.topics.deadletter, time: new Date().toISOString() };
    await Promise.all(
      items.map(({ message, reason }) => {
        this.options.logger.warn({ topic: message.topic, partition: message.partition, offset: message.offset, reason }, 'dead-lettering a message');
        return this.options.producer.send(deadLetterMessage(message, reason, options));
      }),
    );
  }
}
