/**
 * A rolling window of usage (credits-worth) kept in fine buckets, so memory per window is bounded
 * (at most `spanBuckets + 1` buckets) and there is no fixed-window boundary to game.
 *
 * Usage recorded at time t sits in bucket floor(t / bucketMs) and is counted while that bucket is
 * among the last `spanBuckets + 1`, where spanBuckets = ceil(windowMs / bucketMs). Usage therefore
 * stays counted for at least windowMs (never leaves early, so the allowance can never be exceeded in
 * any true rolling window) and at most two buckets longer.
 *
 * Buckets are kept sparse and sorted by id (an account that used the window twice holds two buckets),
 * with a running total so reading usage is O(1) amortized.
 */
export class RollingWindow {
  readonly bucketMs: number;
  readonly spanBuckets: number;
  private ids: number[] = [];
  private amounts: number[] = [];
  /** Index of the oldest live bucket; buckets before it were evicted and are compacted away lazily. */
  private start = 0;
  private totalCredits = 0;

  constructor(
    readonly windowMs: number,
    bucketsPerWindow: number,
  ) {
    this.bucketMs = Math.ceil(windowMs / bucketsPerWindow);
    this.spanBuckets = Math.ceil(windowMs / this.bucketMs);
  }

  /**
   * When usage recorded at nowMs in a window of this length leaves it, in ms from nowMs (what
   * nextReleaseMs says right after recording into an empty window).
   */
  static releaseAfterMs(windowMs: number, bucketsPerWindow: number, nowMs: number): number {
    const bucketMs = Math.ceil(windowMs / bucketsPerWindow);
    const spanBuckets = Math.ceil(windowMs / bucketMs);
    return (Math.floor(nowMs / bucketMs) + spanBuckets + 1) * bucketMs - nowMs;
  }

  /** Credits used in the window as seen at nowMs. */
  usage(nowMs: number): number {
    this.evict(Math.floor(nowMs / this.bucketMs));
    return this.totalCredits;
  }

  /** Live buckets (for tests and memory accounting). */
  get bucketCount(): number {
    return this.ids.length - this.start;
  }

  /**
   * Records usage at atMs (normally now; older when replaying). Usage too old to count at nowMs is not
   * recorded at all.
   */
  add(atMs: number, nowMs: number, credits: number): void {
    if (credits === 0) return;
    const current = Math.floor(nowMs / this.bucketMs);
    this.evict(current);
    const id = Math.floor(atMs / this.bucketMs);
    if (id < current - this.spanBuckets) return;
    const last = this.ids.length - 1;
    if (last >= this.start && this.ids[last] === id) {
      this.amounts[last] = (this.amounts[last] ?? 0) + credits;
    } else if (last < this.start || (this.ids[last] ?? 0) < id) {
      this.ids.push(id);
      this.amounts.push(credits);
    } else {
      // Out of order (replay): insert in place, keeping ids sorted. Rare, and at most spanBuckets long.
      let i = last;
      while (i >= this.start && (this.ids[i] ?? 0) > id) i--;
      if (i >= this.start && this.ids[i] === id) this.amounts[i] = (this.amounts[i] ?? 0) + credits;
      else {
        this.ids.splice(i + 1, 0, id);
        this.amounts.splice(i + 1, 0, credits);
      }
    }
    this.totalCredits += credits;
  }

  /**
   * Adds `deltaCredits` (negative: a correction down to the actual cost) to the bucket usage recorded
   * at atMs went into. If that bucket has left the window there is nothing to correct.
   */
  correct(atMs: number, deltaCredits: number): void {
    const id = Math.floor(atMs / this.bucketMs);
    for (let i = this.ids.length - 1; i >= this.start; i--) {
      const bucket = this.ids[i] ?? 0;
      if (bucket < id) return;
      if (bucket === id) {
        const amount = this.amounts[i] ?? 0;
        // Corrections only undo what was recorded, so a bucket never goes below zero.
        const applied = Math.max(deltaCredits, -amount);
        this.amounts[i] = amount + applied;
        this.totalCredits += applied;
        return;
      }
    }
  }

  /**
   * Milliseconds from nowMs until the oldest usage still counted leaves the window (0 when empty), so
   * `resetMs` in a decision tells when some allowance comes back.
   */
  nextReleaseMs(nowMs: number): number {
    this.evict(Math.floor(nowMs / this.bucketMs));
    for (let i = this.start; i < this.ids.length; i++) {
      if ((this.amounts[i] ?? 0) > 0) return ((this.ids[i] ?? 0) + this.spanBuckets + 1) * this.bucketMs - nowMs;
    }
    return 0;
  }

  private evict(currentBucket: number): void {
    const oldest = currentBucket - this.spanBuckets;
    while (this.start < this.ids.length && (this.ids[this.start] ?? 0) < oldest) {
      this.totalCredits -= this.amounts[this.start] ?? 0;
      this.start++;
    }
    if (this.start === this.ids.length) {
      if (this.start > 0) {
        this.ids.length = 0;
        this.amounts.length = 0;
        this.start = 0;
      }
      this.totalCredits = 0;
    } else if (this.start >= 32 && this.start * 2 >= this.ids.length) {
      this.ids.splice(0, this.start);
      this.amounts.splice(0, this.start);
      this.start = 0;
    }
  }
}
