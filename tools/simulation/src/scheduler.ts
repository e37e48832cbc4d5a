/**
 * One seeded scheduler drives the whole simulation: every action (a message stored, a batch fetched, a transaction
 * committed, a caller's request) is an entry at a virtual time; entries run one at a time in (time, insertion)
 * order, and the virtual clock jumps to each entry's time. With the random draws all made from one Rng in that
 * order, a seed fixes the whole run.
 *
 * An action that called or settled the real application code's promises (AdmissionService awaits its DecisionSink)
 * returns FLUSH: the scheduler then lets every pending promise continuation run (one macrotask turn) before the next
 * step, so those continuations belong to the step that caused them, in an order fixed by the steps.
 */
export const FLUSH = 'flush';
export type Action = () => void | typeof FLUSH;

const macrotask = () => new Promise<void>((resolve) => setImmediate(resolve));

interface Entry {
  readonly atMs: number;
  readonly seq: number;
  readonly label: string;
  readonly action: Action;
}

export class Scheduler {
  private heap: Entry[] = [];
  private seq = 0;
  /** Steps run so far; every step is one simulated event. */
  step = 0;
  nowMs: number;
  /** When set, every step's label is appended here (`--trace`, and the replay test). */
  trace: string[] | null = null;
  /** A rolling FNV-1a hash of every step's time and label: two runs with equal hashes ran the same steps. */
  hash = 0x811c9dc5;

  constructor(readonly startMs: number) {
    this.nowMs = startMs;
  }

  get pending(): number {
    return this.heap.length;
  }

  at(atMs: number, label: string, action: Action): void {
    this.push({ atMs: Math.max(atMs, this.nowMs), seq: this.seq++, label, action });
  }

  after(delayMs: number, label: string, action: Action): void {
    this.at(this.nowMs + delayMs, label, action);
  }

  /** Runs the next entry; false when there is none. */
  async runOne(): Promise<boolean> {
    const entry = this.pop();
    if (entry === undefined) return false;
    this.nowMs = entry.atMs;
    this.step++;
    this.mix(entry.atMs - this.startMs);
    this.mixString(entry.label);
    if (this.trace !== null) this.trace.push(`${this.step} +${entry.atMs - this.startMs}ms ${entry.label}`);
    if (entry.action() === FLUSH) await macrotask();
    return true;
  }

  private mix(n: number): void {
    this.hash = Math.imul(this.hash ^ (n & 0xffff), 0x01000193) >>> 0;
    this.hash = Math.imul(this.hash ^ (n >>> 16), 0x01000193) >>> 0;
  }

  private mixString(s: string): void {
    for (let i = 0; i < s.length; i++) this.hash = Math.imul(this.hash ^ s.charCodeAt(i), 0x01000193) >>> 0;
  }

  private less(a: Entry, b: Entry): boolean {
    return a.atMs < b.atMs || (a.atMs === b.atMs && a.seq < b.seq);
  }

  private push(entry: Entry): void {
    const heap = this.heap;
    heap.push(entry);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  private pop(): Entry | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length > 0 && last !== undefined) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && this.less(heap[l]!, heap[m]!)) m = l;
        if (r < heap.length && this.less(heap[r]!, heap[m]!)) m = r;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m]!, heap[i]!];
        i = m;
      }
    }
    return top;
  }
}
