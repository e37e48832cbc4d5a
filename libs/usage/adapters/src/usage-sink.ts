/**
 * The sink: one batch consumer per topic, each writing one table through the application's `TableIngest` (dedupe,
 * the completions' allowance split, insert, dead letters; see @access/usage-application). Parsing happens at the
 * edge (EventConsumer dead-letters what does not parse); the offset is committed only after `TableIngest.ingest`
 * resolves, and a retriable failure (ClickHouse down, a decision still on its way) makes the consumer retry the
 * batch with backoff, committing nothing meanwhile.
 */
import { SOURCES, TOPICS } from '@access/contracts';
import { clickhouseInsertSpan } from '@access/platform-clickhouse';
import { withSpans, type Logger } from '@access/platform-observability';
import { EventConsumer, KafkaAdmin, RetriableError, deadLetterMessage, errorMessage, type ConsumedEvent, type EventProducer, type Kafka } from '@access/platform-kafka';
import { TableIngest, type DecisionsProgress, type IngestObserver } from '@access/usage-application';
import type { IngestLimits, IngestTable, PriceFn } from '@access/usage-domain';
import type { ClickhouseUsageStore } from './clickhouse-usage-store';
import { InsertCoalescer } from './insert-coalescer';
import { ingestObserver, type IngestMetrics } from './metrics';

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

export class UsageSink {
  private readonly consumers: { spec: SinkTopic; consumer: EventConsumer }[] = [];
  private readonly groupId: string;
  private readonly now: () => number;
  private readonly observer: IngestObserver;
  /** Reads the decisions consumer's progress (committed offsets) while a completion waits for its decision. */
  private admin: KafkaAdmin | undefined;

  constructor(private readonly options: UsageSinkOptions) {
    this.groupId = options.groupId ?? 'usage-ingest';
    this.now = options.now ?? Date.now;
    this.observer = ingestObserver(options.metrics, options.logger);
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
      const ingest = this.tableIngest(spec.table);
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
      await consumer.start((events) => ingest.ingest(events, consumer.generation));
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

  private tableIngest(table: IngestTable): TableIngest<ConsumedEvent> {
    const { store, limits, metrics } = this.options;
    const coalescer = new InsertCoalescer(
      store,
      table,
      { rowsMax: limits.insertRowsMax, bytesMax: limits.insertBytesMax, waitMsMax: limits.insertWaitMsMax, settleMsMax: limits.clickhouseRequestTimeoutMs },
      (_rows, seconds) => metrics.insertSeconds.observe({ table }, seconds),
    );
    // The INSERT shows in the trace of each message it stores (a child of the message's `process` span).
    const writer = {
      write: (lines: readonly string[], sources: readonly ConsumedEvent[]) =>
        withSpans(`INSERT ${table}`, sources.map((c) => c.processTraceparent), clickhouseInsertSpan(table, lines.length), () => coalescer.write(lines)),
    };
    return new TableIngest<ConsumedEvent>({
      table,
      store,
      writer,
      price: this.options.price,
      limits,
      observer: this.observer,
      deadLetter: (items) => this.deadLetter(items),
      decisions: table === 'request_usage' ? this.decisionsProgress() : undefined,
      now: this.now,
    });
  }

  /**
   * The decisions consumer's progress from Kafka: behind while, on some partition of the decisions topic, its
   * committed offset (or the log start, when later) is before the first decision published after `publishedByMs`.
   */
  private decisionsProgress(): DecisionsProgress | undefined {
    const topic = this.decisionsTopic;
    if (topic === undefined) return undefined;
    return {
      mayBeBehind: async (publishedByMs) => {
        const admin = this.admin;
        if (admin === undefined) return false;
        const [upTo, low, committed] = await Promise.all([
          admin.offsetsAtTime(topic, publishedByMs),
          admin.lowWatermarks(topic),
          admin.committedOffsets(this.groupIdOf('admission_decisions'), topic),
        ]);
        for (const [partition, offset] of upTo) {
          const done = committed.get(partition) ?? -1n;
          const start = low.get(partition) ?? 0n;
          if ((done > start ? done : start) < offset) return true;
        }
        return false;
      },
    };
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
