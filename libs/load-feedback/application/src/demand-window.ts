import { classKey, type ClassDemand, type Priority } from '@access/load-feedback-domain';
import { applicationLimits } from './limits';

/** One decision as the demand window needs it (from `admission.decided`). */
export interface DecisionSample {
  /** The event id: a redelivered decision is counted once. */
  readonly id: string;
  readonly model: string;
  readonly plan: string;
  readonly priority: Priority;
  readonly admitted: boolean;
  readonly estimatedCredits: number;
  /** `decidedAt`: demand is placed at the time admission decided, not when Kafka delivered it. */
  readonly atMs: number;
}

export type RecordOutcome = 'recorded' | 'duplicate' | 'too_old' | 'class_limit';

interface Totals {
  requested: number;
  admitted: number;
}

interface Bucket {
  readonly classes: Map<string, Totals>;
}

/**
 * Requested and admitted credits per second of every (model, plan, priority) over a sliding window
 * (the controller's tick interval), from `admission.decided` events. Decisions are bucketed by the
 * time admission made them (`demandBucketMs` buckets), so a burst Kafka delivers late still counts in
 * the window it belongs to, and one delivered twice counts once.
 *
 * Bounded: at most windowMs / bucketMs buckets, `demandClassesMax` classes and `demandSeenIdsMax`
 * remembered ids (the oldest forgotten first).
 */
export class DemandWindow {
  private readonly buckets = new Map<number, Bucket>();
  private readonly seen = new Map<string, number>();
  private readonly classes = new Map<string, { model: string; plan: string; priority: Priority }>();

  constructor(
    private readonly windowMs: number,
    private readonly startedAtMs: number,
    private readonly bucketMs: number = applicationLimits.demandBucketMs,
  ) {
    if (!(windowMs >= bucketMs && windowMs <= applicationLimits.demandWindowMsMax)) {
      throw new RangeError(`demand window ${windowMs} ms must be within [${bucketMs}, ${applicationLimits.demandWindowMsMax}]`);
    }
  }

  record(decision: DecisionSample, nowMs: number): RecordOutcome {
    // A decision stamped ahead of our clock is counted now: a skewed clock must not hide demand.
    const atMs = Math.min(decision.atMs, nowMs);
    if (!Number.isFinite(atMs) || atMs < nowMs - this.windowMs) return 'too_old';
    if (this.seen.has(decision.id)) return 'duplicate';
    const key = classKey(decision);
    if (!this.classes.has(key)) {
      if (this.classes.size >= applicationLimits.demandClassesMax) return 'class_limit';
      this.classes.set(key, { model: decision.model, plan: decision.plan, priority: decision.priority });
    }
    const index = Math.floor(atMs / this.bucketMs);
    let bucket = this.buckets.get(index);
    if (bucket === undefined) {
      bucket = { classes: new Map() };
      this.buckets.set(index, bucket);
    }
    const totals = bucket.classes.get(key) ?? { requested: 0, admitted: 0 };
    const credits = Number.isFinite(decision.estimatedCredits) && decision.estimatedCredits > 0 ? decision.estimatedCredits : 0;
    totals.requested += credits;
    if (decision.admitted) totals.admitted += credits;
    bucket.classes.set(key, totals);
    this.seen.set(decision.id, index);
    if (this.seen.size > applicationLimits.demandSeenIdsMax) {
      const oldest = this.seen.keys().next().value;
      if (oldest !== undefined) this.seen.delete(oldest);
    }
    return 'recorded';
  }

  /**
   * Credits per second per class over the window ending at `nowMs`. Until a whole window has passed
   * since the start, the rate is taken over the time observed so far, so a fresh process does not
   * report a fraction of the real demand.
   */
  demand(nowMs: number): ClassDemand[] {
    this.prune(nowMs);
    const fromIndex = Math.floor((nowMs - this.windowMs) / this.bucketMs);
    const sums = new Map<string, Totals>();
    for (const [index, bucket] of this.buckets) {
      if (index < fromIndex) continue;
      for (const [key, t] of bucket.classes) {
        const s = sums.get(key) ?? { requested: 0, admitted: 0 };
        s.requested += t.requested;
        s.admitted += t.admitted;
        sums.set(key, s);
      }
    }
    const seconds = Math.max(this.bucketMs, Math.min(this.windowMs, nowMs - this.startedAtMs)) / 1000;
    const out: ClassDemand[] = [];
    for (const [key, s] of sums) {
      const c = this.classes.get(key);
      if (c === undefined) continue;
      out.push({ ...c, requestedCreditsPerSecond: s.requested / seconds, admittedCreditsPerSecond: s.admitted / seconds });
    }
    return out;
  }

  /** Buckets and ids held (for metrics and the bounds test). */
  get size(): { buckets: number; ids: number; classes: number } {
    return { buckets: this.buckets.size, ids: this.seen.size, classes: this.classes.size };
  }

  private prune(nowMs: number): void {
    const fromIndex = Math.floor((nowMs - this.windowMs) / this.bucketMs);
    for (const index of this.buckets.keys()) if (index < fromIndex) this.buckets.delete(index);
    for (const [id, index] of this.seen) {
      // Ids are inserted roughly in time order; stop at the first one still inside the window.
      if (index >= fromIndex) break;
      this.seen.delete(id);
    }
  }
}
