import { ExpiryHeap, type Expiring } from './expiry-heap';

/** Something the ExpiryQueue can hold: which lane it is in, and (as heapIndex) where. */
export interface Queued extends Expiring {
  lane: number;
}

const NOT_QUEUED = -1;
const IN_HEAP = -2;

/** One run of items pushed in non-decreasing due time; removed items leave holes (null). */
interface Lane<T> {
  items: (T | null)[];
  /** First index that may hold a live item. */
  head: number;
  /** An item's heapIndex is `base + its index in items`, so dropping the front keeps positions valid. */
  base: number;
  live: number;
  tailDueAtMs: number;
}

/** Holes tolerated before a lane is compacted: memory stays within 4 × live items + this. */
const LANE_SLACK = 64;

/**
 * The admissions' expiry order, with O(1) push and remove in the common case (ExpiryHeap's are
 * O(log n), each step a likely cache miss at hundreds of thousands of open admissions).
 *
 * Admissions arrive in time order and expire after one of a few reservation timeouts, so their due
 * times form a few non-decreasing runs. Each run is a lane: a FIFO where a push appends (best fit: the
 * lane with the latest tail not after the new due time) and a remove leaves a hole. The earliest item
 * is the earliest of the lane heads. Anything that fits no lane (a clock that stepped back, more
 * distinct timeouts than lanes) goes to an ExpiryHeap, so the order is always exact. Lanes are compacted
 * when mostly holes, so memory stays proportional to the items queued.
 */
export class ExpiryQueue<T extends Queued> {
  private readonly lanes: Lane<T>[] = [];
  private readonly heap = new ExpiryHeap<T>();
  private count = 0;

  constructor(private readonly lanesMax = 8) {}

  get size(): number {
    return this.count;
  }

  push(item: T): void {
    const lanes = this.lanes;
    let best = -1;
    let bestTail = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < lanes.length; i++) {
      const tail = (lanes[i] as Lane<T>).tailDueAtMs;
      if (tail <= item.dueAtMs && tail >= bestTail) {
        best = i;
        bestTail = tail;
      }
    }
    if (best === -1 && lanes.length < this.lanesMax) {
      lanes.push({ items: [], head: 0, base: 0, live: 0, tailDueAtMs: Number.NEGATIVE_INFINITY });
      best = lanes.length - 1;
    }
    this.count++;
    if (best === -1) {
      item.lane = IN_HEAP;
      this.heap.push(item);
      return;
    }
    const lane = lanes[best] as Lane<T>;
    item.lane = best;
    item.heapIndex = lane.base + lane.items.length;
    lane.items.push(item);
    lane.live++;
    lane.tailDueAtMs = item.dueAtMs;
  }

  /** The item due first, or undefined when empty. */
  peek(): T | undefined {
    let min = this.heap.peek();
    for (const lane of this.lanes) {
      const head = this.headOf(lane);
      if (head !== undefined && (min === undefined || head.dueAtMs < min.dueAtMs)) min = head;
    }
    return min;
  }

  /** Removes an item wherever it is; removing one that is not queued changes nothing. */
  remove(item: T): void {
    if (item.lane === IN_HEAP) {
      this.heap.remove(item);
      item.lane = NOT_QUEUED;
      this.count--;
      return;
    }
    const lane = item.lane >= 0 ? this.lanes[item.lane] : undefined;
    if (lane === undefined) return;
    const i = item.heapIndex - lane.base;
    if (lane.items[i] !== item) return;
    lane.items[i] = null;
    lane.live--;
    this.count--;
    item.lane = NOT_QUEUED;
    item.heapIndex = -1;
    const span = lane.items.length - lane.head;
    if (span > LANE_SLACK && lane.live * 4 < span) compact(lane);
  }

  private headOf(lane: Lane<T>): T | undefined {
    const items = lane.items;
    let head = lane.head;
    while (head < items.length && items[head] === null) head++;
    lane.head = head;
    if (head === items.length) {
      if (items.length > 0) {
        // Empty: start over, and let any due time use this lane again.
        lane.base += items.length;
        items.length = 0;
        lane.head = 0;
        lane.tailDueAtMs = Number.NEGATIVE_INFINITY;
      }
      return undefined;
    }
    if (head > LANE_SLACK && head * 2 >= items.length) {
      items.splice(0, head);
      lane.base += head;
      lane.head = 0;
    }
    return items[lane.head] as T;
  }
}

/** Drops the holes of a lane, renumbering what is left. */
function compact<T extends Queued>(lane: Lane<T>): void {
  const kept: T[] = [];
  for (let i = lane.head; i < lane.items.length; i++) {
    const item = lane.items[i];
    if (item === null || item === undefined) continue;
    item.heapIndex = lane.base + kept.length;
    kept.push(item);
  }
  lane.items = kept;
  lane.head = 0;
}
