/**
 * Ingesting one table. For each batch (one partition's events, in offset order): map to rows, plan which rows are new
 * (offset watermark, dedupe keys in the batch, recent keys, and a store lookup for old keys; see @access/usage-domain
 * dedupe.ts), insert them, then dead-letter what could not be mapped; the consumer commits the offset only after
 * `ingest` resolves. When the store is down the batch fails with a retriable error and nothing is committed, so
 * consumption of that partition stops and nothing is lost.
 */
import { NonRetriableError, RetriableError, errorMessage } from '@access/platform-kafka';
import {
  RecentIds,
  chunkLines,
  dedupeKeyOf,
  isExpired,
  mapEvent,
  planBatch,
  type Candidate,
  type IngestLimits,
  type IngestRow,
  type IngestTable,
  type PriceFn,
} from '@access/usage-domain';
import { withAllowances } from './allowances';
import type { DecisionsProgress, IngestEvent, IngestObserver, RowWriter, UsageStorePort } from './ports';

export interface TableIngestOptions<E extends IngestEvent> {
  table: IngestTable;
  store: UsageStorePort;
  writer: RowWriter<E>;
  price: PriceFn;
  limits: IngestLimits;
  observer: IngestObserver;
  /** Sends what could not be stored to the dead-letter topic; a failure must be retriable (the rows are stored). */
  deadLetter: (items: { consumed: E; reason: string }[]) => Promise<void>;
  /** For `request_usage`: whether the decisions a completion needs may still be on their way. */
  decisions?: DecisionsProgress;
  now: () => number;
}

/** A partition's dedupe state, as read from the store at its (re)assignment. */
export interface PartitionState {
  /** The consumer generation this state was recovered in; a rebalance makes it stale. */
  generation: number;
  /** Highest offset stored for this partition (-1n: none). */
  watermark: bigint;
  recent: RecentIds;
}

/** An event kept for insertion: its row and its dedupe key. */
export interface Kept<E extends IngestEvent> {
  consumed: E;
  row: IngestRow;
  accountId: string;
  time: string;
  /** The row's dedupe key and when it was created (`dedupeKeyOf`). */
  key: string;
  keyTimeMs: number;
}

export class TableIngest<E extends IngestEvent> {
  private readonly states = new Map<string, PartitionState>();

  constructor(private readonly options: TableIngestOptions<E>) {}

  /** One partition's batch; `generation` is the consumer's, which changes at every rebalance. */
  async ingest(events: readonly E[], generation: number): Promise<void> {
    const { table, observer } = this.options;
    const first = events[0];
    if (first === undefined) return;
    const key = `${first.topic}:${first.partition}`;
    let state = this.states.get(key);
    if (state === undefined || state.generation !== generation) {
      state = await this.recover(first.topic, first.partition, generation);
      this.states.set(key, state);
    }
    const { kept, deadLetters } = this.mapAll(events);
    const plan = planBatch(
      kept.map((k): Candidate => ({ key: k.key, offset: k.consumed.offset, keyTimeMs: k.keyTimeMs })),
      state.watermark,
      state.recent,
      this.options.limits.clockSkewMarginMs,
    );
    for (const skipped of plan.skipped) observer.skipped(table, skipped.reason, 1);
    const found = await this.storedKeys(state, plan.lookup.map((i) => kept[i]!));
    let toInsert = plan.insert.map((i) => kept[i]!).filter((k) => !found.has(k.key));
    if (table === 'request_usage' && toInsert.length > 0) {
      toInsert = await withAllowances(toInsert, { ...this.options, guard: (run) => this.guard(state, run) });
    }
    await this.insert(state, toInsert);
    if (deadLetters.length > 0) await this.options.deadLetter(deadLetters);
    observer.batchDone(table);
  }

  /** Rows of the events this table stores; expired ones are counted and dropped, the others are dead letters. */
  private mapAll(events: readonly E[]): { kept: Kept<E>[]; deadLetters: { consumed: E; reason: string }[] } {
    const { table, limits, price } = this.options;
    const nowMs = this.options.now();
    const kept: Kept<E>[] = [];
    const deadLetters: { consumed: E; reason: string }[] = [];
    let expired = 0;
    for (const consumed of events) {
      const origin = { topic: consumed.topic, partition: consumed.partition, offset: consumed.offset, timestampMs: consumed.timestampMs };
      const mapped = mapEvent(consumed.event, origin, { price, nowMs });
      if (!mapped.ok) {
        deadLetters.push({ consumed, reason: mapped.reason });
      } else if (mapped.table !== table) {
        deadLetters.push({ consumed, reason: `${consumed.event.type} is not stored in ${table}` });
      } else if (isExpired(mapped.timeMs, nowMs, limits.retentionDays)) {
        expired += 1;
      } else {
        const { key, keyTimeMs } = dedupeKeyOf(consumed.event);
        kept.push({ consumed, row: mapped.row, accountId: mapped.accountId, time: (mapped.row as { time: string }).time, key, keyTimeMs });
      }
    }
    if (expired > 0) this.options.observer.skipped(table, 'expired', expired);
    return { kept, deadLetters };
  }

  /** Which of these rows' keys the store already holds (the plan's lookups: keys older than the recent window). */
  private async storedKeys(state: PartitionState, lookedUp: readonly Kept<E>[]): Promise<Set<string>> {
    const { table, store, limits, observer } = this.options;
    if (lookedUp.length === 0) return new Set<string>();
    observer.lookedUp(table, lookedUp.length);
    const times = lookedUp.map((k) => k.time).sort();
    // Copies of one event share its time; two completions of one admission need not (see existingKeys).
    const time = table === 'request_usage' ? undefined : { min: times[0]!, max: times[times.length - 1]! };
    const found = await this.guard(state, () =>
      store.existingKeys(table, { keys: lookedUp.map((k) => k.key), accountIds: lookedUp.map((k) => k.accountId), time }, limits.lookupIdsPerQueryMax),
    );
    if (found.size > 0) observer.skipped(table, 'found_in_clickhouse', found.size);
    return found;
  }

  private async insert(state: PartitionState, toInsert: readonly Kept<E>[]): Promise<void> {
    const { table, limits, observer, writer } = this.options;
    const lines = toInsert.map((k) => JSON.stringify(k.row));
    let position = 0;
    for (const chunk of chunkLines(lines, limits.insertRowsMax, limits.insertBytesMax)) {
      const rows = toInsert.slice(position, position + chunk.length);
      position += chunk.length;
      // Chunks of one partition go one after the other, so its rows reach the store in offset order.
      await this.guard(state, () => writer.write(chunk, rows.map((k) => k.consumed)));
      observer.inserted(table, rows.length);
      // The chunk is stored: the watermark and the window say so, so a retry of this batch skips it.
      for (const k of rows) state.recent.add(k.key, k.consumed.timestampMs);
      state.watermark = BigInt(rows[rows.length - 1]!.consumed.offset);
    }
  }

  /**
   * Runs a store request. On a failure that may have been applied or may pass later (server down, timeout, the
   * same INSERT still running), the partition's state is dropped, so the retry re-reads the watermark first; the
   * error is retriable, so the consumer retries the batch with backoff and commits nothing meanwhile. Any other
   * failure (the server refused the data) is non-retriable: the consumer re-runs the batch one event at a time and
   * dead-letters the event that still fails.
   */
  private async guard<T>(state: PartitionState, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      if (this.options.store.isRetriable(error)) {
        state.generation = -1;
        throw new RetriableError(`ClickHouse: ${errorMessage(error)}`, { cause: error });
      }
      throw new NonRetriableError(`ClickHouse refused the rows: ${errorMessage(error)}`, { cause: error });
    }
  }

  private async recover(topic: string, partition: number, generation: number): Promise<PartitionState> {
    const { table, store, observer } = this.options;
    const window = this.options.limits.dedupeWindowIdsPerPartitionMax;
    try {
      const stored = (await store.watermarks(table, topic, [partition])).get(partition) ?? { watermark: -1n, rows: 0 };
      const from = stored.watermark - BigInt(window);
      const recentRows = stored.rows === 0 ? [] : await store.recentKeys(table, topic, partition, from < -1n ? -1n : from);
      const recent = new RecentIds(window, recentRows.length === stored.rows);
      for (const r of recentRows) recent.add(r.key, r.timestampMs);
      observer.recovered(table, { topic, partition, watermark: String(stored.watermark), storedRows: stored.rows, windowIds: recent.size });
      return { generation, watermark: stored.watermark, recent };
    } catch (error) {
      throw new RetriableError(`recovering ${topic}:${partition} from ClickHouse: ${errorMessage(error)}`, { cause: error });
    }
  }
}
