/**
 * The only module that imports kafkajs. Everything else speaks in terms of `OutgoingMessage`, `ConsumedMessage`
 * and the classes below, so that a move to a maintained client touches this library alone.
 */
import { Kafka, logLevel, type Admin, type Consumer, type ConsumerRunConfig, type EachBatchPayload, type IHeaders, type Producer } from 'kafkajs';
import { errorMessage, isRetriable } from './errors';
import { kafkaLimits as L } from './limits';

export interface KafkaOptions {
  brokers: string[];
  clientId: string;
  /** Receives kafkajs's own log lines (warnings and errors only). */
  log?: (level: 'warn' | 'error', message: string, extra: Record<string, unknown>) => void;
}

export interface OutgoingMessage {
  topic: string;
  key: string | null;
  value: string | Buffer;
  headers?: Record<string, string>;
  partition?: number;
}

export interface ConsumedMessage {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: Buffer | null;
  headers: Record<string, string>;
  timestampMs: number;
}

export interface TopicSpec {
  name: string;
  partitions: number;
  compacted: boolean;
}

export function createKafka(options: KafkaOptions): Kafka {
  // kafkajs v2 warns once per process about its default partitioner; our keys choose partitions.
  process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
  return new Kafka({
    clientId: options.clientId,
    brokers: options.brokers,
    connectionTimeout: L.connectionTimeoutMs,
    requestTimeout: L.requestTimeoutMs,
    retry: { initialRetryTime: L.clientRetryInitialMs, retries: L.clientRetries, maxRetryTime: L.clientRetryMaxMs },
    logLevel: logLevel.WARN,
    logCreator: () => ({ level, log }) => {
      if (!options.log) return;
      const { message, ...extra } = log as { message: string } & Record<string, unknown>;
      // Our producer bounds its retries on purpose (a send must fail rather than hang); duplicates that a retry
      // could cause are harmless because every consumer is idempotent by event id.
      if (message.startsWith('Limiting retries for the idempotent producer')) return;
      // "The coordinator is loading" and similar are retried by kafkajs itself on a fresh broker.
      options.log(level === logLevel.ERROR ? 'error' : 'warn', `kafkajs: ${message}`, extra);
    },
  });
}

function toHeaders(headers: Record<string, string> | undefined): IHeaders | undefined {
  return headers;
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

// ---------------------------------------------------------------------------------------------------------------------
// Admin

export class KafkaAdmin {
  private readonly admin: Admin;
  constructor(kafka: Kafka) {
    this.admin = kafka.admin();
  }
  connect(): Promise<void> {
    return this.admin.connect();
  }
  disconnect(): Promise<void> {
    return this.admin.disconnect();
  }
  /** Creates the topics that do not exist yet; returns the names it created. */
  async ensureTopics(topics: readonly TopicSpec[]): Promise<string[]> {
    const existing = new Set(await this.admin.listTopics());
    const missing = topics.filter((t) => !existing.has(t.name));
    if (missing.length === 0) return [];
    try {
      await this.admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((t) => ({
          topic: t.name,
          numPartitions: t.partitions,
          replicationFactor: 1,
          configEntries: t.compacted
            ? [
                { name: 'cleanup.policy', value: 'compact' },
                { name: 'min.cleanable.dirty.ratio', value: String(L.compactedMinCleanableDirtyRatio) },
                { name: 'segment.ms', value: String(L.compactedSegmentMs) },
              ]
            : [],
        })),
      });
    } catch (error) {
      // Waiting for leaders right after creation can fail with "This server does not host this topic-partition"
      // while the broker's metadata catches up; the topics were created, so wait for their leaders ourselves.
      const now = new Set(await this.admin.listTopics());
      if (!missing.every((t) => now.has(t.name))) throw error;
    }
    await this.waitForLeaders(missing.map((t) => t.name));
    return missing.map((t) => t.name);
  }
  /** Polls metadata until every partition of `names` has a leader (bounded: `leaderWaitMs`). */
  async waitForLeaders(names: string[], timeoutMs: number = L.leaderWaitMs): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const metadata = await this.admin.fetchTopicMetadata({ topics: names });
        if (metadata.topics.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0))) return;
      } catch (error) {
        if (Date.now() > deadline) throw error;
      }
      if (Date.now() > deadline) throw new Error(`topics without leaders after ${timeoutMs} ms: ${names.join(', ')}`);
      await sleep(L.leaderPollMs);
    }
  }
  async deleteTopics(names: string[]): Promise<void> {
    await this.admin.deleteTopics({ topics: names });
  }
  async describeCluster(): Promise<{ brokers: number; controller: number | null }> {
    const cluster = await this.admin.describeCluster();
    return { brokers: cluster.brokers.length, controller: cluster.controller };
  }
  async topicConfig(name: string): Promise<Record<string, string>> {
    const result = await this.admin.describeConfigs({ includeSynonyms: false, resources: [{ type: 2, name }] });
    const out: Record<string, string> = {};
    for (const entry of result.resources[0]?.configEntries ?? []) out[entry.configName] = entry.configValue;
    return out;
  }
  /** High watermarks (next offset to be written) per partition. */
  async highWatermarks(topic: string): Promise<Map<number, bigint>> {
    const offsets = await this.admin.fetchTopicOffsets(topic);
    return new Map(offsets.map((o) => [o.partition, BigInt(o.high)]));
  }
  /** Low watermarks (the earliest offset still in the log) per partition. */
  async lowWatermarks(topic: string): Promise<Map<number, bigint>> {
    const offsets = await this.admin.fetchTopicOffsets(topic);
    return new Map(offsets.map((o) => [o.partition, BigInt(o.low)]));
  }
  /**
   * Per partition, the offset of the first message with a timestamp at or after `timestampMs`, or the high
   * watermark when there is none (a reader starting there reads exactly the messages since that time).
   */
  async offsetsAtTime(topic: string, timestampMs: number): Promise<Map<number, bigint>> {
    const offsets = await this.admin.fetchTopicOffsetsByTimestamp(topic, timestampMs);
    return new Map(offsets.map((o) => [o.partition, BigInt(o.offset)]));
  }
  /** Deletes consumer groups (readers with a group per process remove theirs when they stop). */
  async deleteGroups(groupIds: string[]): Promise<void> {
    await this.admin.deleteGroups(groupIds);
  }
  /** Committed offsets of a consumer group, per partition (-1 when none). */
  async committedOffsets(groupId: string, topic: string): Promise<Map<number, bigint>> {
    const result = await this.admin.fetchOffsets({ groupId, topics: [topic] });
    return new Map((result[0]?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// Producer

export interface ProducerOptions {
  /** How long a message may wait for others to share its request (the linger). */
  lingerMs?: number;
  /** At most this many messages per request to the broker. */
  batchMessagesMax?: number;
}

/**
 * An idempotent producer (acks=all, one in-flight request per broker so that retries keep order) that batches
 * concurrent sends: `send` resolves when the broker has acknowledged the message, after at most `lingerMs`
 * of waiting for company. Per-key order is preserved because a batch is sent in call order.
 */
export class EventProducer {
  private readonly producer: Producer;
  private queue: { message: OutgoingMessage; resolve: () => void; reject: (e: unknown) => void }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> = Promise.resolve();
  private readonly lingerMs: number;
  private readonly batchMessagesMax: number;
  private connected = false;

  constructor(kafka: Kafka, options: ProducerOptions = {}) {
    this.lingerMs = options.lingerMs ?? L.producerLingerMs;
    this.batchMessagesMax = options.batchMessagesMax ?? L.producerBatchMessagesMax;
    this.producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  }

  async connect(): Promise<void> {
    await this.producer.connect();
    this.connected = true;
  }

  get isConnected(): boolean {
    return this.connected;
  }

  /** Sends one message; resolves once it is acknowledged by all in-sync replicas. */
  send(message: OutgoingMessage): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ message, resolve, reject });
      if (this.queue.length >= this.batchMessagesMax) this.flushSoon(0);
      else this.flushSoon(this.lingerMs);
    });
  }

  /** Sends many messages as one batch and resolves when all are acknowledged. */
  async sendMany(messages: readonly OutgoingMessage[]): Promise<void> {
    if (messages.length === 0) return;
    await Promise.all(messages.map((m) => this.send(m)));
  }

  private flushSoon(delayMs: number): void {
    if (this.timer && delayMs > 0) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.inFlight = this.inFlight.then(() => this.flush());
    }, delayMs);
  }

  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.batchMessagesMax);
      const byTopic = new Map<string, OutgoingMessage[]>();
      for (const { message } of batch) {
        const list = byTopic.get(message.topic) ?? [];
        list.push(message);
        byTopic.set(message.topic, list);
      }
      try {
        await this.producer.sendBatch({
          acks: -1,
          topicMessages: [...byTopic].map(([topic, messages]) => ({
            topic,
            messages: messages.map((m) => ({ key: m.key, value: m.value, headers: toHeaders(m.headers), partition: m.partition })),
          })),
        });
        for (const item of batch) item.resolve();
      } catch (error) {
        for (const item of batch) item.reject(error);
      }
    }
  }

  async disconnect(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.inFlight = this.inFlight.then(() => this.flush());
    }
    await this.inFlight;
    this.connected = false;
    await this.producer.disconnect();
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// Consumer

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
/** How often a consumer heartbeats, also while a batch is being handled or waits to be retried. */
const heartbeatIntervalMs = L.heartbeatIntervalMs;

export class RawBatchConsumer {
  private readonly consumer: Consumer;
  private stopping = false;
  private readonly assigned = new Set<string>();
  private running = false;
  private joins = 0;
  private runConfig: ConsumerRunConfig | undefined;
  private crashes = 0;

  constructor(
    kafka: Kafka,
    private readonly options: RawConsumerOptions,
  ) {
    this.consumer = kafka.consumer({
      groupId: options.groupId,
      sessionTimeout: options.sessionTimeoutMs ?? L.sessionTimeoutMs,
      heartbeatInterval: heartbeatIntervalMs,
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
        const keepAlive = setInterval(() => void heartbeat().catch(() => undefined), heartbeatIntervalMs);
        try {
          for (;;) {
            try {
              await handler(messages, context);
              break;
            } catch (error) {
              if (!isRetriable(error)) throw error; // the caller (EventConsumer) decides dead letters; nothing else should throw this
              attempt += 1;
              const delayMs = Math.min(this.options.retryBackoffMsMax ?? L.retryBackoffMsMax, L.batchRetryBaseMs * 2 ** Math.min(attempt, L.batchRetryExponentMax));
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

/** What `connectKafkaOrExit` logs through (a pino logger is one). */
export interface KafkaProcessLogger {
  fatal(extra: Record<string, unknown>, message: string): void;
  warn(extra: Record<string, unknown>, message: string): void;
  error(extra: Record<string, unknown>, message: string): void;
}

/**
 * A service's Kafka at boot: the client (its log lines through `logger`), an admin and a producer, both connected.
 * A broker that does not answer ends the process (exit 1) with one line naming KAFKA_BROKERS and the command that
 * starts the local stack.
 */
export async function connectKafkaOrExit(options: {
  brokers: string[];
  clientId: string;
  logger: KafkaProcessLogger;
  producer?: ProducerOptions;
}): Promise<{ kafka: Kafka; admin: KafkaAdmin; producer: EventProducer }> {
  const { logger } = options;
  const kafka = createKafka({ brokers: options.brokers, clientId: options.clientId, log: (level, message, extra) => logger[level](extra, message) });
  const admin = new KafkaAdmin(kafka);
  const producer = new EventProducer(kafka, options.producer);
  try {
    await Promise.all([admin.connect(), producer.connect()]);
  } catch (error) {
    logger.fatal({ err: errorMessage(error) }, 'cannot connect to Kafka (KAFKA_BROKERS); is the stack up? npm run infra:up');
    process.exit(1);
  }
  return { kafka, admin, producer };
}

function crashRestartDelayMs(crashes: number, capMs: number | undefined): number {
  return Math.min(capMs ?? L.retryBackoffMsMax, L.crashRestartBaseMs * 2 ** Math.min(crashes, L.crashRestartExponentMax));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export { errorMessage };
export type { Kafka };
