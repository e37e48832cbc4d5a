import type { AdmissionDecidedV1, UsageRequestCompletedV1 } from '@access/contracts';

/** A past input read at start, with the time it happened. */
export type ReplayItem =
  | { readonly kind: 'decided'; readonly timeMs: number; readonly data: AdmissionDecidedV1 }
  | { readonly kind: 'completed'; readonly timeMs: number; readonly data: UsageRequestCompletedV1 }
  /** A ledger event that puts the admission's hold into the balance, at ledger `version`. */
  | { readonly kind: 'reserved'; readonly timeMs: number; readonly admissionId: string; readonly version: number };

const RANK: Readonly<Record<ReplayItem['kind'], number>> = { decided: 0, completed: 1, reserved: 2 };

/**
 * Collects replay items from several topics and partitions (which Kafka hands out in no common order)
 * and applies them sorted by time; at equal times a decision comes before its completion and its
 * reservation. Bounded: when `max` items are buffered they are applied as one chunk and collection goes
 * on. Order across a chunk boundary can then differ from the original, which the domain tolerates
 * (completions and reservations that come before their decision are remembered and applied with it).
 */
export class ReplayLog {
  private items: ReplayItem[] = [];
  private applied = 0;

  constructor(
    private readonly max: number,
    private readonly apply: (sorted: readonly ReplayItem[]) => void,
  ) {}

  get buffered(): number {
    return this.items.length;
  }

  add(item: ReplayItem): void {
    this.items.push(item);
    if (this.items.length >= this.max) this.flush();
  }

  /** Applies the buffer in order and empties it; returns how many items were applied in total. */
  flush(): number {
    const items = this.items;
    this.items = [];
    // Array.prototype.sort is stable: equal keys keep their topic and partition order.
    items.sort((a, b) => a.timeMs - b.timeMs || RANK[a.kind] - RANK[b.kind]);
    this.apply(items);
    this.applied += items.length;
    return this.applied;
  }
}
