/**
 * Drains the outbox to Kafka: ledger events to `access.ledger.v1`, balances to the compacted
 * `access.balances.v1`, dead letters to `access.deadletter.v1`. One loop, in outbox id order, so each account's
 * messages leave in the order they were written; rows are deleted only after Kafka acknowledged them (acks=all),
 * so a crash publishes a message at least once, never zero times (consumers dedupe by event id).
 *
 * Only one publisher per schema runs at a time, across processes: it holds a Postgres advisory lock on a
 * dedicated connection, and another instance waits for it.
 *
 * Balances: the topic is compacted and only the latest balance of an account matters, so within one round only
 * the newest balance of each account is sent (the older rows are deleted with it). A balance whose change a
 * consumed message caused carries header `access-caused-at` (the earliest cause among the rows it replaces), from
 * which admission measures freshness.
 *
 * Traces: a message whose outbox line names a `traceparent` (the ledger's span of its cause) is sent in a PRODUCER
 * span of that trace, and carries the span's context in its `traceparent` header (tracing off: the stored one).
 */
import type { DataSource } from 'typeorm';
import { CAUSED_AT_HEADER, CLOUDEVENTS_CONTENT_TYPE } from '@access/contracts';
import { sleep, startSendSpan, type EventProducer, type OutgoingMessage } from '@access/platform-kafka';
import type { Traced } from '@access/platform-observability';
import type { LedgerStoreLimits } from './limits';
import { coalesceBalances, parseOutboxLine, type OutboxLine } from './outbox-lines';
import { LedgerSql, type HeldLock } from './postgres';
import { publishInOrder } from './publish';

export interface OutboxTopics {
  readonly ledger: string;
  readonly balances: string;
  readonly deadletter: string;
}

export interface OutboxObserver {
  published?(messages: number, rows: number): void;
  failed?(error: unknown): void;
}

export class OutboxPublisher {
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private pending = false;
  private lock: HeldLock | undefined;
  private readonly sql: LedgerSql;
  private lastRoundOk = true;

  constructor(
    db: DataSource,
    private readonly producer: EventProducer,
    private readonly topics: OutboxTopics,
    private readonly limits: Pick<LedgerStoreLimits, 'outboxBatchMax' | 'outboxIdleWaitMs' | 'outboxRetryWaitMsMax'>,
    private readonly observer: OutboxObserver = {},
  ) {
    this.sql = new LedgerSql(db);
  }

  /**
   * True while running and its last step succeeded: a round of publishing while it holds the lock, or asking Postgres
   * for the lock while another instance holds it (a standby is healthy; one round that failed before another instance
   * took the lock over must not leave it unready for good).
   */
  get healthy(): boolean {
    return this.running && this.lastRoundOk;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Wakes the loop (called after a commit that wrote outbox rows). */
  notify(): void {
    this.pending = true;
    this.wake?.();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
  }

  /** Publishes until the outbox is empty (tests, shutdown). Returns the rows published. */
  async drain(): Promise<number> {
    let total = 0;
    for (;;) {
      const rows = await this.round();
      if (rows === 0) return total;
      total += rows;
    }
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (this.running) {
      try {
        if (!(await this.holdLock())) {
          this.lastRoundOk = true;
          await this.idle(this.limits.outboxRetryWaitMsMax);
          continue;
        }
        const rows = await this.round();
        this.lastRoundOk = true;
        failures = 0;
        if (rows < this.limits.outboxBatchMax) await this.idle(this.limits.outboxIdleWaitMs);
      } catch (error) {
        this.lastRoundOk = false;
        this.observer.failed?.(error);
        failures += 1;
        await this.releaseLock();
        await sleep(Math.min(this.limits.outboxRetryWaitMsMax, 100 * 2 ** Math.min(failures, 10)));
      }
    }
    await this.releaseLock();
  }

  /** One round: read up to outboxBatchMax rows (each a committed batch) in id order, publish, delete. */
  private async round(): Promise<number> {
    const rows = await this.sql.outboxRows(this.limits.outboxBatchMax);
    if (rows.length === 0) return 0;
    const parsed: OutboxLine[] = [];
    for (const row of rows) for (const line of row.messages.split('\n')) parsed.push(parseOutboxLine(line));
    const spans: Traced[] = [];
    const messages: OutgoingMessage[] = coalesceBalances(parsed).map((m) => {
      const topic = m.kind === 'ledger' ? this.topics.ledger : m.kind === 'balance' ? this.topics.balances : this.topics.deadletter;
      const headers: Record<string, string> = { 'content-type': CLOUDEVENTS_CONTENT_TYPE };
      if (m.causedAtMs !== null) headers[CAUSED_AT_HEADER] = String(m.causedAtMs);
      if (m.traceparent !== undefined) {
        // A `send` span in the trace of the message's cause; its context goes out in the headers.
        const span = startSendSpan(topic, m.traceparent, m.key);
        spans.push(span);
        Object.assign(headers, span.headers());
      }
      return { topic, key: m.key, value: m.value, headers };
    });
    try {
      await publishInOrder(this.producer, messages);
    } catch (error) {
      for (const span of spans) span.end(error);
      throw error;
    }
    for (const span of spans) span.end();
    await this.sql.deleteOutboxRows(rows.map((r) => r.id));
    this.observer.published?.(messages.length, rows.length);
    return rows.length;
  }

  private idle(ms: number): Promise<void> {
    if (this.pending || !this.running) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = () => {
        this.wake = undefined;
        done();
      };
    }).then(() => {
      this.pending = false;
    });
  }

  private async holdLock(): Promise<boolean> {
    if (this.lock !== undefined) return true;
    this.lock = (await this.sql.tryOutboxLock()) ?? undefined;
    return this.lock !== undefined;
  }

  private async releaseLock(): Promise<void> {
    const lock = this.lock;
    this.lock = undefined;
    await lock?.release();
  }
}
