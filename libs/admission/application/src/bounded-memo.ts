/**
 * A map whose entries expire, kept in insertion order (which is time order, because every write moves
 * the key to the end), so eviction only ever looks at the head: O(1) amortized per write. Bounded by
 * `max`: past it, the oldest entries are evicted early and `onEvict` reports how many.
 */
export class ExpiringMemo<V> {
  private readonly entries = new Map<string, { value: V; expiresAtMs: number }>();

  constructor(
    private readonly max: number,
    private readonly onEarlyEvict?: (count: number) => void,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  get(key: string, nowMs: number): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined || entry.expiresAtMs <= nowMs) return undefined;
    return entry.value;
  }

  has(key: string, nowMs: number): boolean {
    return this.get(key, nowMs) !== undefined;
  }

  set(key: string, value: V, expiresAtMs: number, nowMs: number): void {
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAtMs });
    this.evict(nowMs);
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  /** Drops expired entries from the head, and the oldest ones while over `max`. */
  evict(nowMs: number): void {
    let early = 0;
    for (const [key, entry] of this.entries) {
      if (entry.expiresAtMs <= nowMs) this.entries.delete(key);
      else if (this.entries.size > this.max) {
        this.entries.delete(key);
        early++;
      } else break;
    }
    if (early > 0) this.onEarlyEvict?.(early);
  }
}
