import { recordDecidedAtMs, recordFingerprint } from './answer-codec';

/** An admitted decision being made durable: a retry with the same fingerprint waits for the same outcome. */
export interface PendingDecision<T> {
  readonly fingerprint: string;
  readonly outcome: Promise<T>;
}

export type Remembered<T> =
  | { readonly kind: 'none' }
  | { readonly kind: 'pending'; readonly pending: PendingDecision<T> }
  /** A packed answer (answer-codec.ts): its fingerprint digest, then the essentials of the first decision. */
  | { readonly kind: 'decided'; readonly record: string };

const NONE = { kind: 'none' } as const;

/**
 * The idempotency memory: for each (accountId, requestId) key, its first decision for `ttlMs` after it was made.
 *
 * Decided entries are packed answers (about 100 bytes, answer-codec.ts) in one Map of strings, kept in insertion
 * order, which is time order (every write moves the key to the end), so expiry and the `max` bound only ever look at
 * the head. An entry's expiry is its decision's time plus the TTL, read from the record itself. Past `max` entries the
 * oldest are forgotten early and counted (`onEarlyEvict`): the bound a deployment sizes with docs/scaling.md.
 *
 * Admitted decisions in flight (not yet durable) are in a separate map: they are few (bounded by the requests in
 * flight), hold a promise, and never expire by time; a key is in at most one of the two maps.
 */
export class IdempotencyStore<T> {
  private readonly decided = new Map<string, string>();
  private readonly pending = new Map<string, PendingDecision<T>>();

  constructor(
    private readonly max: number,
    private readonly ttlMs: number,
    private readonly onEarlyEvict?: (count: number) => void,
  ) {}

  /** Decided entries held (expired ones not yet evicted included). */
  get size(): number {
    return this.decided.size;
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  find(key: string, nowMs: number): Remembered<T> {
    const pending = this.pending.get(key);
    if (pending !== undefined) return { kind: 'pending', pending };
    const record = this.decided.get(key);
    if (record === undefined || recordDecidedAtMs(record) + this.ttlMs <= nowMs) return NONE;
    return { kind: 'decided', record };
  }

  /** The fingerprint a key's entry was made with, if it has a live one. */
  fingerprintOf(found: Remembered<T>): string | undefined {
    if (found.kind === 'pending') return found.pending.fingerprint;
    if (found.kind === 'decided') return recordFingerprint(found.record);
    return undefined;
  }

  startPending(key: string, pending: PendingDecision<T>): void {
    this.decided.delete(key);
    this.pending.set(key, pending);
  }

  /** The pending decision became durable: its packed answer replaces it. */
  settlePending(key: string, pending: PendingDecision<T>, record: string, nowMs: number): void {
    // Replaced meanwhile by a decision read from the log (admission-service.ts, rememberDecided): that one stays.
    if (this.pending.get(key) !== pending) return;
    this.pending.delete(key);
    this.remember(key, record, nowMs);
  }

  /** The pending decision was not made durable: the key is free again (unless something else took it meanwhile). */
  dropPending(key: string, pending: PendingDecision<T>): void {
    if (this.pending.get(key) === pending) this.pending.delete(key);
  }

  /** Remembers a decided answer for the key (replacing what the key had), unless it is already expired. */
  remember(key: string, record: string, nowMs: number): void {
    if (recordDecidedAtMs(record) + this.ttlMs <= nowMs) return;
    this.pending.delete(key);
    this.decided.delete(key);
    this.decided.set(key, record);
    this.evict(nowMs);
  }

  /** Forgets the key's decided answer if it is still `record` (a rejection that never became durable). */
  forget(key: string, record: string): void {
    if (this.decided.get(key) === record) this.decided.delete(key);
  }

  /** Drops expired entries from the head, and the oldest ones while over `max`. */
  evict(nowMs: number): void {
    let early = 0;
    for (const [key, record] of this.decided) {
      if (recordDecidedAtMs(record) + this.ttlMs <= nowMs) this.decided.delete(key);
      else if (this.decided.size > this.max) {
        this.decided.delete(key);
        early++;
      } else break;
    }
    if (early > 0) this.onEarlyEvict?.(early);
  }
}
