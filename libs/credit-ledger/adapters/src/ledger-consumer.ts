/**
 * The ledger's Kafka consumer: admitted decisions (`access.admissions.v1`) and completions (`access.usage.v1`)
 * in, ledger events out, with an exactly-once effect:
 *
 * 1. Positions live in Postgres (`consumer_offsets`), written in the same transaction as the events the
 *    messages produced. On every (re)assignment the consumer reads them and seeks there; Kafka's committed
 *    offsets (committed after Postgres, for lag monitoring only) are never trusted to start from.
 * 2. Messages below the stored position (redelivered after a crash between the Postgres commit and the Kafka
 *    commit) are skipped; a batch that starts above it makes the consumer seek back.
 * 3. The offset write is fenced on the position the batch started from: if another instance advanced the
 *    partition meanwhile, the whole transaction rolls back and this consumer seeks to the stored position.
 * 4. Commands are idempotent by id in the domain, so even a message applied twice would change nothing.
 *
 * Poison (unparseable, invalid, unpriceable, conflicting or rejected) goes to the dead-letter topic through the
 * outbox, in the same transaction as the offset that skips it.
 */
import { EVENTS } from '@access/contracts';
import type { PriceBook } from '@access/catalog';
import { decodeEvent, RawBatchConsumer, startProcessSpans, type BatchContext, type ConsumedMessage, type Kafka } from '@access/platform-kafka';
import {
  OffsetFencedError,
  intakeBatch,
  intakeOf,
  type CommandOutcome,
  type DeadLetter,
  type Intake,
} from '@access/credit-ledger-application';
import type { LedgerStore } from './ledger-store';

export interface LedgerConsumerOptions {
  readonly groupId: string;
  readonly admissionsTopic: string;
  readonly usageTopic: string;
  readonly priceBook: PriceBook;
  /** Names this consumer in dead letters. */
  readonly consumerName?: string;
  readonly sessionTimeoutMs?: number;
  /**
   * Partitions handled at once (default 2). Batches of different partitions hold different accounts, so they
   * decide and write concurrently: one batch's decisions overlap another's Postgres commit.
   */
  readonly partitionsConcurrently?: number;
  /**
   * Also commit positions to Kafka after Postgres (default true). They only serve lag monitoring: the consumer
   * always starts from Postgres. Tests turn it off to prove that.
   */
  readonly commitToKafka?: boolean;
  /** The wall clock (commands carry it as `now`). */
  readonly clock?: () => number;
  readonly observer?: LedgerConsumerObserver;
}

export interface LedgerConsumerObserver {
  outcome?(topic: string, kind: string): void;
  deadLettered?(topic: string, reason: string): void;
  sought?(topic: string, partition: number, offset: string): void;
  /** Messages below the stored position were redelivered (a crash between the Postgres and the Kafka commit) and skipped. */
  skipped?(topic: string, partition: number, messages: number): void;
  /** A batch failed and will be retried after `delayMs` (Postgres down, a conflict that outlasted the retries…). */
  retry?(error: unknown, attempt: number, delayMs: number): void;
}

type Ref = ConsumedMessage;

/** A message yields at most this many commands (a late decision: its reserve and its allowance refund). */
const commandsPerMessageMax = 2;

export class LedgerConsumer {
  private readonly raw: RawBatchConsumer;
  /** Stored next offset per "topic:partition", as of this consumer's last read or write (null: none stored). */
  private readonly positions = new Map<string, string | null>();
  private positionsGeneration = -1;
  private readonly consumerName: string;
  private readonly clock: () => number;

  constructor(
    kafka: Kafka,
    private readonly store: LedgerStore,
    private readonly options: LedgerConsumerOptions,
  ) {
    this.consumerName = options.consumerName ?? 'credit-ledger';
    this.clock = options.clock ?? Date.now;
    this.raw = new RawBatchConsumer(kafka, {
      groupId: options.groupId,
      topics: [options.admissionsTopic, options.usageTopic],
      // A ledger that has stored no position for a partition must start at its beginning: skipping a
      // message would lose a charge.
      fromBeginning: true,
      commitOffsets: options.commitToKafka ?? true,
      sessionTimeoutMs: options.sessionTimeoutMs,
      partitionsConsumedConcurrently: options.partitionsConcurrently ?? 2,
      onRetry: (error, attempt, delayMs) => options.observer?.retry?.(error, attempt, delayMs),
      // On every assignment, go to the positions stored in Postgres: Kafka's own position may be behind them
      // (a crash between the two commits) or ahead (commits off, or a reset), and when it is at the end no batch
      // would ever arrive to notice.
      onAssignment: async (partitions) => {
        const positions: { topic: string; partition: number; offset: string }[] = [];
        for (const topic of new Set(partitions.map((p) => p.topic))) {
          const stored = await store.storedOffsets(options.groupId, topic);
          for (const { partition } of partitions.filter((p) => p.topic === topic)) {
            const offset = stored.get(partition);
            if (offset === undefined) continue;
            positions.push({ topic, partition, offset });
            options.observer?.sought?.(topic, partition, offset);
          }
        }
        return positions;
      },
    });
  }

  get assignment(): string[] {
    return this.raw.assignment;
  }

  get isRunning(): boolean {
    return this.raw.isRunning;
  }

  start(): Promise<void> {
    return this.raw.start((messages, context) => this.handle(messages, context));
  }

  stop(): Promise<void> {
    return this.raw.stop();
  }

  /** topic:partition → the stored position this consumer last sought to (see handle). */
  private readonly soughtTo = new Map<string, string>();

  private async handle(messages: ConsumedMessage[], context: BatchContext): Promise<void> {
    const { topic, partition } = context;
    const key = `${topic}:${partition}`;
    if (this.positionsGeneration !== this.raw.generation) {
      // A rebalance: another member may have applied these partitions meanwhile. Read positions afresh.
    // (Concurrent handlers see the same generation; only the first clears.)
      this.positions.clear();
      this.soughtTo.clear();
      this.positionsGeneration = this.raw.generation;
    }
    let expected = this.positions.get(key);
    if (expected === undefined) {
      expected = (await this.store.storedOffsets(this.options.groupId, topic)).get(partition) ?? null;
      this.positions.set(key, expected);
    }
    const first = messages[0];
    if (first === undefined) return;
    if (expected !== null && BigInt(first.offset) > BigInt(expected) && this.soughtTo.get(key) !== expected) {
      // Kafka would resume after messages Postgres has not applied: go back to the stored position.
      this.options.observer?.sought?.(topic, partition, expected);
      this.soughtTo.set(key, expected);
      context.seek(expected);
      return;
    }
    // Read from the stored position and the first message is still later: the offsets between hold no message a
    // read-committed consumer is given (transaction markers, aborted decisions: admission writes in transactions).
    this.soughtTo.delete(key);
    const from = expected;
    const fresh = from === null ? messages : messages.filter((m) => BigInt(m.offset) >= BigInt(from));
    if (fresh.length < messages.length) this.options.observer?.skipped?.(topic, partition, messages.length - fresh.length);
    const messagesPerChunk = Math.max(1, Math.floor(this.store.limits.batchCommandsMax / commandsPerMessageMax));
    for (let i = 0; i < fresh.length; i += messagesPerChunk) {
      if (context.isStopping()) return;
      const chunk = fresh.slice(i, i + messagesPerChunk);
      const nextOffset = (BigInt(chunk[chunk.length - 1]!.offset) + 1n).toString();
      // One `process` span per message, a child of its producer's: the events and balances it causes carry it on.
      const spans = startProcessSpans(chunk, this.options.groupId);
      try {
        await this.apply(chunk, topic, partition, expected, nextOffset, spans.traceparentOf);
        spans.end();
      } catch (error) {
        spans.end(error);
        if (!(error instanceof OffsetFencedError)) throw error;
        const stored = (await this.store.storedOffsets(this.options.groupId, topic)).get(partition) ?? null;
        this.positions.set(key, stored);
        if (stored !== null) {
          this.options.observer?.sought?.(topic, partition, stored);
          context.seek(stored);
        }
        return;
      }
      expected = nextOffset;
      this.positions.set(key, expected);
      await context.heartbeat().catch(() => undefined);
    }
  }

  private async apply(
    chunk: ConsumedMessage[],
    topic: string,
    partition: number,
    expected: string | null,
    nextOffset: string,
    traceOf: (index: number) => string | undefined,
  ): Promise<void> {
    const now = new Date(this.clock()).toISOString();
    const expectedType = topic === this.options.admissionsTopic ? EVENTS.admissionDecided : EVENTS.usageRequestCompleted;
    const deadLetters: DeadLetter[] = [];
    const dead = (message: ConsumedMessage, error: string) => {
      this.options.observer?.deadLettered?.(topic, error);
      deadLetters.push({ topic, partition, offset: message.offset, key: message.key, value: message.value, headers: message.headers, error, consumer: this.consumerName });
    };

    const intakes: { message: ConsumedMessage; intake: Intake; causationId: string; traceparent: string | undefined }[] = [];
    for (const [index, message] of chunk.entries()) {
      // The topic check is the type check below: the ledger's topics are configurable (tests give each run its own).
      const parsed = decodeEvent(message, { checkTopic: false });
      if (!parsed.ok) {
        dead(message, parsed.reason);
        continue;
      }
      if (parsed.event.type !== expectedType) {
        dead(message, `${parsed.event.type} is not carried by ${topic}`);
        continue;
      }
      const intake = intakeOf(parsed.event, this.options.priceBook);
      if (intake.kind === 'invalid') dead(message, intake.reason);
      else intakes.push({ message, intake, causationId: parsed.event.id, traceparent: traceOf(index) });
    }

    // Every command carries its message's Kafka timestamp (`causedAtMs`); the allowance parts recorded before
    // this batch are read once it holds its accounts (see intakeBatch).
    const batch = intakeBatch(
      intakes.map(({ message, intake, causationId, traceparent }) => ({ intake, causationId, causedAtMs: message.timestampMs, traceparent, ref: message })),
      now,
    );
    const prepare = async () => {
      batch.useRecordedAllowances(batch.admissionIds.length > 0 ? await this.store.allowancesOf(batch.admissionIds) : new Map<string, number>());
    };
    await this.store.execute(batch.items, {
      prepare,
      offsets: [{ groupId: this.options.groupId, topic, partition, expectedNextOffset: expected, nextOffset }],
      allowances: batch.allowances,
      deadLetters,
      deadLettersFor: (outcomes) => this.outcomeDeadLetters(outcomes, topic, partition),
    });
  }

  private outcomeDeadLetters(outcomes: readonly CommandOutcome<Ref>[], topic: string, partition: number): DeadLetter[] {
    const letters: DeadLetter[] = [];
    for (const { item, result } of outcomes) {
      const kind = result?.kind ?? 'nothing_to_do';
      this.options.observer?.outcome?.(topic, kind);
      if (result === null || item.ref === undefined) continue;
      let error: string | null = null;
      if (result.kind === 'conflict') error = `LEDGER.CONFLICT: ${result.detail}`;
      else if (result.kind === 'rejected') error = `LEDGER.REJECTED (${result.reason}): ${result.detail}`;
      if (error === null) continue;
      this.options.observer?.deadLettered?.(topic, error);
      const m = item.ref;
      letters.push({ topic, partition, offset: m.offset, key: m.key, value: m.value, headers: m.headers, error, consumer: this.consumerName });
    }
    return letters;
  }
}
