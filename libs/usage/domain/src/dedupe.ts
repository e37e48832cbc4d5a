/**
 * Exactly-once into ClickHouse without transactions. A row must never be inserted twice, because the rollups are fed
 * by materialized views at insert time and would count it twice for ever. What "twice" means is the row's dedupe key
 * (`dedupeKeyOf` below): the `admissionId` of a completion (one completed request is one row, whatever event id
 * a producer's retry gave it), and (`source`, `id`) of every other event. Three checks, cheapest first:
 *
 * 1. Offset watermark, per (topic, partition): the highest offset already stored, read from ClickHouse on start and
 *    after every rebalance. A partition's rows are inserted in offset order, in INSERTs that are each one block
 *    (written whole or not at all), so every message at or below the watermark is already stored (or was poison or
 *    a duplicate). This covers redelivery after a crash, a rebalance, and any replay of an offset range.
 * 2. Keys seen in this batch.
 * 3. Keys recently stored in this partition: a window of the last N keys, filled from ClickHouse at recovery
 *    and then from each insert. This covers the same event sent twice by a producer (new offset, same key); the
 *    message key is the accountId, so both copies are in the same partition.
 *
 * A key created before the window's oldest entry, less a clock-skew margin, may have a first copy that the window no
 * longer holds: only those are looked up in ClickHouse. A key's creation time is the time in its UUIDv7 (the event id,
 * or for a completion the admissionId: no copy of a completion is older than its admission); a key without one (an
 * id from another producer that is not a UUIDv7) is always looked up unless the window holds every key ever stored.
 * A producer's retry is younger than the window; an old event republished (`access ledger replay`) is not, and is
 * looked up. So the dedupe window is the whole retention period, at the cost of a lookup only for old keys.
 */
import { EVENTS, eventIdentity, uuidv7Schema, uuidv7TimeMs, type AnyAccessEvent } from '@access/contracts';

/** The in-memory window of one partition: the most recent stored dedupe keys, oldest evicted first. */
export class RecentIds {
  private readonly ids = new Set<string>();
  private readonly order: string[] = [];
  private readonly timestamps: number[] = [];
  private head = 0;
  private evicted: boolean;

  /**
   * @param capacity most ids kept.
   * @param complete true when the window starts with every id ever stored for the partition (nothing was evicted
   *   and nothing older exists), so no event can have a copy outside it.
   */
  constructor(
    readonly capacity: number,
    complete: boolean,
  ) {
    this.evicted = !complete;
  }

  get size(): number {
    return this.ids.size;
  }

  has(id: string): boolean {
    return this.ids.has(id);
  }

  /** Records a stored id and the Kafka timestamp of its message; evicts the oldest beyond capacity. */
  add(id: string, timestampMs: number): void {
    if (this.ids.has(id)) return;
    this.ids.add(id);
    this.order.push(id);
    this.timestamps.push(timestampMs);
    while (this.ids.size > this.capacity) {
      const oldest = this.order[this.head]!;
      this.ids.delete(oldest);
      this.head += 1;
      this.evicted = true;
    }
    // Compact the arrays now and then rather than shifting them on every eviction (O(1) amortized).
    if (this.head > 4096 && this.head * 2 > this.order.length) {
      this.order.splice(0, this.head);
      this.timestamps.splice(0, this.head);
      this.head = 0;
    }
  }

  /**
   * The Kafka timestamp from which on every stored id of the partition is in the window, or -Infinity when the
   * window holds every id ever stored. Undefined when something was evicted and the window is now empty.
   */
  coversSinceMs(): number | undefined {
    if (!this.evicted) return Number.NEGATIVE_INFINITY;
    return this.head < this.order.length ? this.timestamps[this.head] : undefined;
  }

  /** True when a copy of an event created at `idTimeMs` could have been stored before the window began. */
  mayHoldOlderCopy(idTimeMs: number, clockSkewMarginMs: number): boolean {
    const since = this.coversSinceMs();
    if (since === undefined) return true;
    return idTimeMs < since + clockSkewMarginMs;
  }
}

export interface Candidate {
  /** The row's dedupe key (see `dedupeKeyOf`). */
  key: string;
  /** Kafka offset as a decimal string. */
  offset: string;
  /** When the key was created (from its UUIDv7), or -Infinity when unknown. */
  keyTimeMs: number;
}

export type SkipReason = 'below_watermark' | 'duplicate_in_batch' | 'duplicate_recent';

export interface BatchPlan {
  /** Indexes of candidates to insert, unless the ClickHouse lookup finds them. */
  insert: number[];
  /** Of `insert`, those whose key must first be looked up in ClickHouse. */
  lookup: number[];
  skipped: { index: number; reason: SkipReason }[];
}

/**
 * Decides, without I/O, what to do with each candidate of one partition's batch (in offset order): skip what is
 * certainly stored, and say which of the rest need a ClickHouse lookup by id before they can be inserted.
 *
 * @param watermark the highest offset stored for this partition, or -1n when none.
 */
export function planBatch(candidates: readonly Candidate[], watermark: bigint, recent: RecentIds, clockSkewMarginMs: number): BatchPlan {
  const plan: BatchPlan = { insert: [], lookup: [], skipped: [] };
  const inBatch = new Set<string>();
  candidates.forEach((c, index) => {
    if (BigInt(c.offset) <= watermark) {
      plan.skipped.push({ index, reason: 'below_watermark' });
    } else if (inBatch.has(c.key)) {
      plan.skipped.push({ index, reason: 'duplicate_in_batch' });
    } else if (recent.has(c.key)) {
      plan.skipped.push({ index, reason: 'duplicate_recent' });
    } else {
      inBatch.add(c.key);
      plan.insert.push(index);
      if (recent.mayHoldOlderCopy(c.keyTimeMs, clockSkewMarginMs)) plan.lookup.push(index);
    }
  });
  return plan;
}

export interface DedupeKey {
  /** What makes two events one row: see the top of this file. */
  key: string;
  /** When the key was created, from its UUIDv7; -Infinity when it carries no time (an id from another producer). */
  keyTimeMs: number;
}

function creationTimeMs(id: string): number {
  return uuidv7Schema.safeParse(id).success ? uuidv7TimeMs(id) : Number.NEGATIVE_INFINITY;
}

/**
 * The dedupe key of an event's row. A completion is one row per `admissionId` (CONTRACTS.md: a second completion of
 * the same admission, under a new event id with the same or other content, never adds a row); every other event is
 * one row per (`source`, `id`).
 */
export function dedupeKeyOf(event: AnyAccessEvent): DedupeKey {
  if (event.type === EVENTS.usageRequestCompleted) {
    return { key: event.data.admissionId, keyTimeMs: creationTimeMs(event.data.admissionId) };
  }
  return { key: eventIdentity(event), keyTimeMs: creationTimeMs(event.id) };
}
