/**
 * The consumer every reader is built on: batches of one partition, retried with backoff while the member stays
 * in its group, offsets committed after the handler. Decoding and dead letters are layered on top (events.ts).
 */
import type { Consumer, ConsumerRunConfig, EachBatchPayload, IHeaders, Kafka } from 'kafkajs';
import { batchRetryDelayMs, crashRestartDelayMs, sleep } from './backoff';
import { isRetriable } from './errors';
import type { ConsumedMessage } from './kafka';
import { kafkaLimits as L } from './limits';

export interface BatchContext {
  topic: string;
  partition: number;
  /** Call during long handlers so that the group does not consider this member dead. */
  heartbeat(): Promise<void>;
  /** True once `stop()` was called: finish the batch in hand, start nothing new. */
  isStopping(): boolean;
  /**
   * Moves this partition's position to `offset` (the next message to fetch) and drops the batch in hand: it is
   * neither resolved nor committed, and the next batch of this partition starts at `offset`. For consumers that
   * keep their offsets elsewhere (the ledger stores them in Postgres with the effects) and must start there.
   */
  seek(offset: string): void;
}

export interface RawConsumerOptions {
  groupId: string;
  topics: string[];
  fromBeginning?: boolean;
  /** false: never commit (a reader that rebuilds state from the start each time). */
  commitOffsets?: boolean;
  /** Upper bound of bytes fetched per partition per request. */
  maxBytesPerPartition?: number;
  sessionTimeoutMs?: number;
  /** Max wait for a batch to fill up. */
  maxWaitMs?: number;
  retryBackoffMsMax?: number;
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
  /**
   * Batches of different partitions handled at the same time (default 1). Batches of one partition are always
   * handled one after the other, in offset order; a handler that coalesces concurrent batches (one INSERT for
   * several partitions) needs more than one.
   */
  partitionsConsumedConcurrently?: number;
  /**
   * Called after every (re)assignment with the partitions now assigned; the positions it returns are sought
   * (the next fetch of those partitions starts there). For consumers that keep their positions elsewhere: the
   * ledger stores them in Postgres with its effects. Batches fetched before the seek lands may still reach the
   * handler (it can compare offsets and call `context.seek` itself); a failure is reported through `onRetry`.
   */
  onAssignment?: (partitions: { topic: string; partition: number }[]) => Promise<{ topic: string; partition: number; offset: string }[]>;
  /**
   * Called after each fetched batch of a partition has been handled, with the next offset this member reads there.
   * Unlike the last message's offset, it counts records no handler sees (transaction markers, aborted messages), so a
   * reader can tell it has reached a high watermark of a topic that transactional producers write.
   */
  onPosition?: (topic: string, partition: number, nextOffset: bigint) => void;
}

/**
 * How often a consumer heartbeats, also while a batch is being handled or waits to be retried: the default, or a third
 * of a shorter session so that two heartbeats may be late before the member is dropped.
 */
function heartbeatIntervalOf(sessionTimeoutMs: number): number {
  return Math.min(L.heartbeatIntervalMs, Math.floor(sessionTimeoutMs / 3));
}

/**
 * Consumes in batches (one partition's messages at a time) and commits the offset after the handler returns.
 * A handler that throws is retried with exponential backoff (capped), heartbeating meanwhile, until it
 * succeeds or the consumer is stopped; a stopped consumer commits nothing for the unfinished batch, so it is
 * redelivered. Deciding which messages are poison (dead letter) is the caller's job (see EventConsumer).
 *
 * The member stays in its group while a batch waits on a slow or unreachable store: it heartbeats every
 * `heartbeatIntervalMs` during the handler and during the backoff, not only between attempts (an attempt may hang
 * for a whole request timeout). If the member is dropped all the same, or the handler throws something
 * non-retriable, kafkajs stops the consumer for good ("crash" without restart); this class starts it again, with
 * backoff, so that a long outage of a store never leaves a service alive but consuming nothing.
 */

export class RawBatchConsumer {
  private readonly consumer: Consumer;
  private stopping = false;
  private readonly assigned = new Set<string>();
  private running = false;
  private joins = 0;
  private runConfig: ConsumerRunConfig | undefined;
  private crashes = 0;
  private readonly heartbeatIntervalMs: number;

  constructor(
    kafka: Kafka,
    private readonly options: RawConsumerOptions,
  ) {
    const sessionTimeoutMs = options.sessionTimeoutMs ?? L.sessionTimeoutMs;
    this.heartbeatIntervalMs = heartbeatIntervalOf(sessionTimeoutMs);
    this.consumer = kafka.consumer({
      groupId: options.groupId,
      sessionTimeout: sessionTimeoutMs,
      heartbeatInterval: this.heartbeatIntervalMs,
      maxBytesPerPartition: options.maxBytesPerPartition ?? L.fetchBytesPerPartitionMax,
      maxBytes: L.fetchBytesMax,
      maxWaitTimeInMs: options.maxWaitMs ?? L.fetchWaitMs,
      allowAutoTopicCreation: false,
      retry: { retries: L.consumerRetries, initialRetryTime: L.consumerRetryInitialMs, maxRetryTime: L.consumerRetryMaxMs },
    });
    this.consumer.on(this.consumer.events.GROUP_JOIN, (event) => {
      this.joins += 1;
      this.assigned.clear();
      const assignment: { topic: string; partition: number }[] = [];
      for (const [topic, partitions] of Object.entries(event.payload.memberAssignment)) {
        for (const p of partitions) {
          this.assigned.add(`${topic}:${p}`);
          assignment.push({ topic, partition: p });
        }
      }
      const onAssignment = options.onAssignment;
      if (onAssignment !== undefined && assignment.length > 0) {
        const generation = this.joins;
        void onAssignment(assignment)
          .then((positions) => {
            // A later rebalance has its own positions: seeking with these could move a partition backwards.
            if (generation !== this.joins || this.stopping) return;
            for (const p of positions) this.consumer.seek({ topic: p.topic, partition: p.partition, offset: p.offset });
          })
          .catch((error: unknown) => options.onRetry?.(error, 0, 0));
      }
    });
    const onPosition = options.onPosition;
    if (onPosition !== undefined) {
      this.consumer.on(this.consumer.events.END_BATCH_PROCESS, (event) => {
        const { topic, partition, lastOffset } = event.payload;
        onPosition(topic, partition, BigInt(lastOffset) + 1n);
      });
    }
    this.consumer.on(this.consumer.events.CRASH, (event) => {
      // kafkajs restarts by itself after a retriable crash; after any other it has disconnected and stays down.
      if (event.payload.restart || this.stopping) return;
      this.running = false;
      this.crashes += 1;
      const delayMs = crashRestartDelayMs(this.crashes, this.options.retryBackoffMsMax);
      this.options.onRetry?.(event.payload.error, this.crashes, delayMs);
      setTimeout(() => void this.restartAfterCrash(), delayMs).unref();
    });
  }

  private async restartAfterCrash(): Promise<void> {
    if (this.stopping || this.runConfig === undefined) return;
    try {
      await this.consumer.connect();
      await this.consumer.run(this.runConfig);
      this.running = true;
      this.crashes = 0;
    } catch (error) {
      this.crashes += 1;
      const delayMs = crashRestartDelayMs(this.crashes, this.options.retryBackoffMsMax);
      this.options.onRetry?.(error, this.crashes, delayMs);
      setTimeout(() => void this.restartAfterCrash(), delayMs).unref();
    }
  }

  /** Times kafkajs stopped this consumer for good and it was (or is being) started again. */
  get restartsAfterCrash(): number {
    return this.crashes;
  }

  /** Topic-partitions assigned to this member at the last rebalance. */
  get assignment(): string[] {
    return [...this.assigned];
  }

  get isRunning(): boolean {
    return this.running;
  }

  /**
   * Incremented at every (re)join of the group, before the first batch of the new assignment is handed out: a
   * handler that keeps per-partition state compares it to know that a rebalance happened in between, even when
   * the same partitions came back (another member may have consumed and written them meanwhile).
   */
  get generation(): number {
    return this.joins;
  }

  async start(handler: (messages: ConsumedMessage[], context: BatchContext) => Promise<void>): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: this.options.topics, fromBeginning: this.options.fromBeginning ?? false });
    const commit = this.options.commitOffsets ?? true;
    this.runConfig = {
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently ?? 1,
      eachBatch: async (payload: EachBatchPayload) => {
        const { batch, heartbeat, isRunning, isStale } = payload;
        if (batch.messages.length === 0 || this.stopping) return;
        const messages: ConsumedMessage[] = batch.messages.map((m) => ({
          topic: batch.topic,
          partition: batch.partition,
          offset: m.offset,
          key: m.key ? m.key.toString('utf8') : null,
          value: m.value,
          headers: fromHeaders(m.headers),
          timestampMs: Number(m.timestamp),
        }));
        let sought = false;
        const context: BatchContext = {
          topic: batch.topic,
          partition: batch.partition,
          heartbeat,
          isStopping: () => this.stopping || !isRunning() || isStale(),
          seek: (offset: string) => {
            sought = true;
            this.consumer.seek({ topic: batch.topic, partition: batch.partition, offset });
          },
        };
        let attempt = 0;
        // Heartbeats while the handler runs and while it waits to retry (errors, e.g. a rebalance, show in isStale).
        const keepAlive = setInterval(() => void heartbeat().catch(() => undefined), this.heartbeatIntervalMs);
        try {
          for (;;) {
            try {
              await handler(messages, context);
              break;
            } catch (error) {
              if (!isRetriable(error)) throw error; // the caller (EventConsumer) decides dead letters; nothing else should throw this
              attempt += 1;
              const delayMs = batchRetryDelayMs(attempt, this.options.retryBackoffMsMax);
              this.options.onRetry?.(error, attempt, delayMs);
              if (context.isStopping()) return; // not committed: redelivered after restart or rebalance
              await sleep(delayMs);
              if (context.isStopping()) return;
            }
          }
        } finally {
          clearInterval(keepAlive);
        }
        // A handler that moved the position wants this batch fetched again from there, not acknowledged.
        if (sought) return;
        const last = batch.messages[batch.messages.length - 1]!;
        payload.resolveOffset(last.offset);
        if (commit) {
          await this.consumer.commitOffsets([
            { topic: batch.topic, partition: batch.partition, offset: (BigInt(last.offset) + 1n).toString() },
          ]);
        }
        await heartbeat();
      },
    };
    await this.consumer.run(this.runConfig);
    this.running = true;
  }

  /**
   * Stops fetching these topics (the member keeps its assignment); for a reader that needs a topic only
   * until it has caught up. Batches already fetched may still be delivered.
   */
  pause(topics: string[]): void {
    this.consumer.pause(topics.map((topic) => ({ topic })));
  }

  resume(topics: string[]): void {
    this.consumer.resume(topics.map((topic) => ({ topic })));
  }

  /** Lets the batch in hand finish (and commit), then leaves the group. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.consumer.stop();
    await this.consumer.disconnect();
    this.running = false;
  }
}

function fromHeaders(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!headers) return out;
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const first = Array.isArray(value) ? value[0] : value;
    if (first !== undefined) out[name] = Buffer.isBuffer(first) ? first.toString('utf8') : String(first);
  }
  return out;
}
