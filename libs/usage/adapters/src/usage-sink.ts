/**
 * The sink: one batch consumer per topic, each writing one table. For each batch (one partition's messages, in
 * offset order): parse at the edge (EventConsumer dead-letters what does not parse), map to rows, plan which rows
 * are new (offset watermark, dedupe keys in the batch, recent keys, and a ClickHouse lookup for old keys; see
 * @access/usage-domain dedupe.ts), INSERT them, then dead-letter what could not be mapped, and only then let the
 * consumer commit the offset. When ClickHouse is down the batch is retried with backoff and nothing is committed, so
 * consumption of that partition stops and nothing is lost.
 *
 * A completion's row says what the ledger charged and what the allowance covered: the ledger charges the request's
 * cost less its decision's allowance part, so the sink reads that part from `admission_decisions` before inserting.
 * A decision not stored yet may still be on its way (the decisions consumer runs beside this one): the batch waits
 * (is retried) until the decisions consumer has committed every decision published up to the admission's time, and
 * only then takes a missing decision as none (the ledger charges such a completion in full, too).
 */
import { SOURCES, TOPICS, uuidv7Schema, uuidv7TimeMs } from '@access/contracts';
import { clickhouseInsertSpan } from '@access/platform-clickhouse';
import { withSpans, type Logger } from '@access/platform-observability';
import {
  EventConsumer,
  KafkaAdmin,
  NonRetriableError,
  RetriableError,
  deadLetterMessage,
  errorMessage,
  type ConsumedEvent,
  type EventProducer,
  type Kafka,
} from '@access/platform-kafka';
import {
  RecentIds,
  chunkLines,
  dedupeKeyOf,
  isExpired,
  mapEvent,
  planBatch,
  withAllowance,
  type Candidate,
  type IngestLimits,
  type IngestRow,
  type IngestTable,
  type PriceFn,
  type UsageRow,
} from '@access/usage-domain';
import { isRetriableStoreError, type ClickhouseUsageStore } from './clickhouse-usage-store';
import { InsertCoalescer } from './insert-coalescer';
import type { IngestMetrics } from './metrics';

export interface SinkTopic {
  table: IngestTable;
  topic: string;
}

/** Production wiring: the contract's topics into the contract's tables. */
export const defaultSinkTopics: readonly SinkTopic[] = [
  { table: 'admission_decisions', topic: TOPICS.admissions },
  { table: 'request_usage', topic: TOPICS.usage },
  { table: 'ledger_entries', topic: TOPICS.ledger },
];

export interface UsageSinkOptions {
  kafka: Kafka;
  /** Writes dead letters. */
  producer: EventProducer;
  store: ClickhouseUsageStore;
  price: PriceFn;
  limits: IngestLimits;
  logger: Logger;
  metrics: IngestMetrics;
  topics?: readonly SinkTopic[];
  /** Prefix of the consumer groups, one per table: `${groupId}.${table}`. */
  groupId?: string;
  deadLetterTopic?: string;
  sessionTimeoutMs?: number;
  now?: () => number;
}

interface PartitionState {
  /** The consumer generation this state was recovered in; a rebalance makes it stale. */
  generation: number;
  /** Highest offset stored in ClickHouse for this partition (-1n: none). */
  watermark: bigint;
  recent: RecentIds;
}

interface Kept {
  consumed: ConsumedEvent;
  row: IngestRow;
  accountId: string;
  time: string;
  /** The row's dedupe key and when it was created (`dedupeKeyOf`). */
  key: string;
  keyTimeMs: number;
}

export class UsageSink {
  private readonly consumers: { spec: SinkTopic; consumer: EventConsumer }[] = [];
  private readonly writers = new Map<IngestTable, InsertCoalescer>();
  private readonly states = new Map<string, PartitionState>();
  private readonly groupId: string;
  private readonly now: () => number;
  /** Reads the decisions consumer's progress (committed offsets) while a completion waits for its decision. */
  private admin: KafkaAdmin | undefined;

  constructor(private readonly options: UsageSinkOptions) {
    this.groupId = options.groupId ?? 'usage-ingest';
    this.now = options.now ?? Date.now;
  }

  groupIdOf(table: IngestTable): string {
    return `${this.groupId}.${table}`;
  }

  async start(): Promise<void> {
    const { limits, metrics } = this.options;
    if (this.decisionsTopic !== undefined) {
      this.admin = new KafkaAdmin(this.options.kafka);
      await this.admin.connect();
    }
    for (const spec of this.options.topics ?? defaultSinkTopics) {
      this.writers.set(
        spec.table,
        new InsertCoalescer(
          this.options.store,
          spec.table,
          { rowsMax: limits.insertRowsMax, bytesMax: limits.insertBytesMax, waitMsMax: limits.insertWaitMsMax, settleMsMax: limits.clickhouseRequestTimeoutMs },
          (_rows, seconds) => metrics.insertSeconds.observe({ table: spec.table }, seconds),
        ),
      );
      const consumer = new EventConsumer(this.options.kafka, this.options.producer, {
        groupId: this.groupIdOf(spec.table),
        topics: [spec.topic],
        fromBeginning: true,
        consumerName: `usage-ingest/${spec.table}`,
        source: SOURCES.usageIngest,
        deadLetterTopic: this.options.deadLetterTopic,
        maxBytesPerPartition: limits.batchBytesPerPartitionMax,
        maxWaitMs: limits.batchWaitMsMax,
        retryBackoffMsMax: limits.retryBackoffMsMax,
        sessionTimeoutMs: this.options.sessionTimeoutMs,
        partitionsConsumedConcurrently: limits.partitionsConsumedConcurrently,
        onDeadLetter: (message, reason) => {
          metrics.deadLetters.inc({ topic: message.topic });
          this.options.logger.warn({ topic: message.topic, partition: message.partition, offset: message.offset, reason }, 'dead-lettered');
        },
        onRetry: (error, attempt, delayMs) => {
          metrics.retries.inc({ table: spec.table });
          this.options.logger.warn({ table: spec.table, attempt, delayMs, err: errorMessage(error) }, 'batch failed; retrying');
        },
      });
      this.consumers.push({ spec, consumer });
      await consumer.start((events) => this.handle(spec, consumer, events));
    }
  }

  /** Lets each consumer finish (and commit) the batch in hand, then leaves the groups. */
  async stop(): Promise<void> {
    await Promise.all(this.consumers.map(({ consumer }) => consumer.stop()));
    await this.admin?.disconnect();
  }

  /** The topic of the decisions this sink stores, if it stores them. */
  private get decisionsTopic(): string | undefined {
    return (this.options.topics ?? defaultSinkTopics).find((t) => t.table === 'admission_decisions')?.topic;
  }

  /** True once every consumer has joined its group and received an assignment (possibly empty). */
  get isAssigned(): boolean {
    return this.consumers.length > 0 && this.consumers.every(({ consumer }) => consumer.isRunning && consumer.generation > 0);
  }

  /** Publishes the lag (high watermark minus committed offset) of every partition as a gauge; returns the total. */
  async updateLag(admin: KafkaAdmin): Promise<number> {
    let total = 0;
    for (const { spec } of this.consumers) {
      const [high, committed] = await Promise.all([admin.highWatermarks(spec.topic), admin.committedOffsets(this.groupIdOf(spec.table), spec.topic)]);
      for (const [partition, end] of high) {
        const done = committed.get(partition) ?? -1n;
        const lag = Number(end - (done < 0n ? 0n : done));
        this.options.metrics.lagMessages.set({ group: this.groupIdOf(spec.table), topic: spec.topic, partition: String(partition) }, lag);
        total += lag;
      }
    }
    return total;
  }

  private async handle(spec: SinkTopic, consumer: EventConsumer, events: ConsumedEvent[]): Promise<void> {
    const { metrics, limits } = this.options;
    const first = events[0];
    if (first === undefined) return;
    const { topic, partition } = first;
    const key = `${topic}:${partition}`;
    let state = this.states.get(key);
    if (state === undefined || state.generation !== consumer.generation) {
      state = await this.recover(spec.table, topic, partition, consumer.generation);
      this.states.set(key, state);
    }

    const nowMs = this.now();
    const kept: Kept[] = [];
    const deadLetters: { consumed: ConsumedEvent; reason: string }[] = [];
    let expired = 0;
    for (const consumed of events) {
      const mapped = mapEvent(consumed.event, { topic, partition, offset: consumed.offset, timestampMs: consumed.timestampMs }, { price: this.options.price, nowMs });
      if (!mapped.ok) {
        deadLetters.push({ consumed, reason: mapped.reason });
      } else if (mapped.table !== spec.table) {
        deadLetters.push({ consumed, reason: `${consumed.event.type} is not stored in ${spec.table}` });
      } else if (isExpired(mapped.timeMs, nowMs, limits.retentionDays)) {
        expired += 1;
      } else {
        const { key, keyTimeMs } = dedupeKeyOf(consumed.event);
        kept.push({ consumed, row: mapped.row, accountId: mapped.accountId, time: (mapped.row as { time: string }).time, key, keyTimeMs });
      }
    }
    if (expired > 0) metrics.rowsSkipped.inc({ table: spec.table, reason: 'expired' }, expired);

    const candidates: Candidate[] = kept.map((k) => ({ key: k.key, offset: k.consumed.offset, keyTimeMs: k.keyTimeMs }));
    const plan = planBatch(candidates, state.watermark, state.recent, limits.clockSkewMarginMs);
    for (const skipped of plan.skipped) metrics.rowsSkipped.inc({ table: spec.table, reason: skipped.reason });

    let found = new Set<string>();
    if (plan.lookup.length > 0) {
      const lookedUp = plan.lookup.map((i) => kept[i]!);
      metrics.lookups.inc({ table: spec.table }, lookedUp.length);
      const times = lookedUp.map((k) => k.time).sort();
      // Copies of one event share its time; two completions of one admission need not (see existingKeys).
      const time = spec.table === 'request_usage' ? undefined : { min: times[0]!, max: times[times.length - 1]! };
      found = await this.guard(state, () =>
        this.options.store.existingKeys(spec.table, { keys: lookedUp.map((k) => k.key), accountIds: lookedUp.map((k) => k.accountId), time }, limits.lookupIdsPerQueryMax),
      );
      if (found.size > 0) metrics.rowsSkipped.inc({ table: spec.table, reason: 'found_in_clickhouse' }, found.size);
    }

    let toInsert = plan.insert.map((i) => kept[i]!).filter((k) => !found.has(k.key));
    if (spec.table === 'request_usage' && toInsert.length > 0) toInsert = await this.withAllowances(state, toInsert);
    const lines = toInsert.map((k) => JSON.stringify(k.row));
    const writer = this.writers.get(spec.table)!;
    let position = 0;
    for (const chunk of chunkLines(lines, limits.insertRowsMax, limits.insertBytesMax)) {
      const rows = toInsert.slice(position, position + chunk.length);
      position += chunk.length;
      // Chunks of one partition go one after the other, so its rows reach ClickHouse in offset order. The INSERT shows
      // in the trace of each message it stores (a child of the message's `process` span).
      const parents = rows.map((k) => k.consumed.processTraceparent);
      await this.guard(state, () => withSpans(`INSERT ${spec.table}`, parents, clickhouseInsertSpan(spec.table, rows.length), () => writer.write(chunk)));
      metrics.rowsInserted.inc({ table: spec.table }, rows.length);
      // The chunk is stored: the watermark and the window say so, so a retry of this batch skips it.
      for (const k of rows) state.recent.add(k.key, k.consumed.timestampMs);
      state.watermark = BigInt(rows[rows.length - 1]!.consumed.offset);
    }

    if (deadLetters.length > 0) await this.deadLetter(deadLetters);
    metrics.batches.inc({ table: spec.table });
  }

  /**
   * Completions' rows with their cost split as the ledger split it (`withAllowance`), from the allowance parts of
   * their decisions in `admission_decisions`. Throws a retriable error while a missing decision may still arrive.
   */
  private async withAllowances(state: PartitionState, completions: Kept[]): Promise<Kept[]> {
    const { store, limits } = this.options;
    const admissionOf = (k: Kept) => (k.row as UsageRow).admission_id;
    // Only a UUIDv7 admissionId can name a decision (the decision's schema requires one); its time is when it was made.
    const decidable = completions.filter((k) => uuidv7Schema.safeParse(admissionOf(k)).success);
    const lookUp = async (of: Kept[]): Promise<Map<string, number>> => {
      if (of.length === 0) return new Map<string, number>();
      const times = of.map((k) => uuidv7TimeMs(admissionOf(k)));
      return this.guard(state, () =>
        store.decisionAllowances(
          {
            accountIds: of.map((k) => k.accountId), admissionIds: of.map(admissionOf),
            timeMinMs: Math.min(...times), timeMaxMs: Math.max(...times), timeMarginMs: limits.decisionTimeMarginMs,
          },
          limits.lookupIdsPerQueryMax,
        ),
      );
    };
    const allowances = await lookUp(decidable);
    const missing = decidable.filter((k) => !allowances.has(admissionOf(k)));
    if (missing.length > 0) {
      if (await this.decisionsMayBeBehind(missing.map((k) => Math.max(uuidv7TimeMs(admissionOf(k)), k.consumed.timestampMs)))) {
        throw new RetriableError(`waiting for the decisions of ${missing.length} completions (e.g. admission ${admissionOf(missing[0]!)}) to reach ClickHouse`);
      }
      // The decisions consumer commits only after its rows are stored, and it is now past these decisions: a decision
      // stored between the first lookup and that check is found now; one still missing does not exist.
      for (const [id, credits] of await lookUp(missing)) allowances.set(id, credits);
    }
    return completions.map((k) => ({ ...k, row: withAllowance(k.row as UsageRow, allowances.get(admissionOf(k)) ?? 0) }));
  }

  /**
   * True while the decisions consumer may not yet have stored the decisions of these completions: it has not
   * committed, on every partition of the decisions topic, past the decisions published up to the latest of
   * `decidedByMs` (per completion: the later of its admission's time and its own Kafka timestamp; a decision is
   * published right after admission decides, within `decisionPublishLatencyMsMax`, and before its request can
   * complete), capped at now (a time in the future is no reason to wait for ever).
   */
  private async decisionsMayBeBehind(decidedByMs: number[]): Promise<boolean> {
    const topic = this.decisionsTopic;
    if (topic === undefined || this.admin === undefined || decidedByMs.length === 0) return false;
    const publishedByMs = Math.min(Math.max(...decidedByMs), this.now()) + this.options.limits.decisionPublishLatencyMsMax;
    try {
      const [upTo, low, committed] = await Promise.all([
        this.admin.offsetsAtTime(topic, publishedByMs),
        this.admin.lowWatermarks(topic),
        this.admin.committedOffsets(this.groupIdOf('admission_decisions'), topic),
      ]);
      for (const [partition, offset] of upTo) {
        const done = committed.get(partition) ?? -1n;
        const start = low.get(partition) ?? 0n;
        if ((done > start ? done : start) < offset) return true;
      }
      return false;
    } catch (error) {
      throw new RetriableError(`reading the decisions consumer's progress: ${errorMessage(error)}`, { cause: error });
    }
  }

  /**
   * Runs a ClickHouse request. On a failure that may have been applied or may pass later (server down, timeout, the
   * same INSERT still running), the partition's state is dropped, so the retry re-reads the watermark first; the
   * error is retriable, so the consumer retries the batch with backoff and commits nothing meanwhile. Any other
   * failure (the server refused the data) is non-retriable: the consumer re-runs the batch one event at a time and
   * dead-letters the event that still fails.
   */
  private async guard<T>(state: PartitionState, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      if (isRetriableStoreError(error)) {
        state.generation = -1;
        throw new RetriableError(`ClickHouse: ${errorMessage(error)}`, { cause: error });
      }
      throw new NonRetriableError(`ClickHouse refused the rows: ${errorMessage(error)}`, { cause: error });
    }
  }

  private async recover(table: IngestTable, topic: string, partition: number, generation: number): Promise<PartitionState> {
    const window = this.options.limits.dedupeWindowIdsPerPartitionMax;
    try {
      const stored = (await this.options.store.watermarks(table, topic, [partition])).get(partition) ?? { watermark: -1n, rows: 0 };
      const from = stored.watermark - BigInt(window);
      const recentRows = stored.rows === 0 ? [] : await this.options.store.recentKeys(table, topic, partition, from < -1n ? -1n : from);
      const recent = new RecentIds(window, recentRows.length === stored.rows);
      for (const r of recentRows) recent.add(r.key, r.timestampMs);
      this.options.metrics.recoveries.inc({ table });
      this.options.logger.info({ table, topic, partition, watermark: String(stored.watermark), storedRows: stored.rows, windowIds: recent.size }, 'partition recovered from ClickHouse');
      return { generation, watermark: stored.watermark, recent };
    } catch (error) {
      throw new RetriableError(`recovering ${topic}:${partition} from ClickHouse: ${errorMessage(error)}`, { cause: error });
    }
  }

  private async deadLetter(items: { consumed: ConsumedEvent; reason: string }[]): Promise<void> {
    const options = { consumer: 'usage-ingest', source: SOURCES.usageIngest, topic: this.options.deadLetterTopic, time: new Date(this.now()).toISOString() };
    const messages = items.map(({ consumed, reason }) => deadLetterMessage(consumed.message, reason, options));
    try {
      await this.options.producer.sendMany(messages);
    } catch (error) {
      // The rows are stored and the state says so: a retry of the batch only re-sends these dead letters.
      throw new RetriableError(`dead-letter topic: ${errorMessage(error)}`, { cause: error });
    }
    for (const { consumed } of items) this.options.metrics.deadLetters.inc({ topic: consumed.topic });
  }
}
