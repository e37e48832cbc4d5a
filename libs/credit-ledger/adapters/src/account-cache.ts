/**
 * The account states the store has folded, so that the hot path decides without reading what it just wrote.
 * Bounded (least recently used evicted first): a state is always rebuildable from the events.
 * It holds committed states only: the store puts a state here after its transaction committed and evicts an
 * account whose append failed, so a cached state is never ahead of (or, for this process, behind) Postgres.
 */
import type { CreditAccountState } from '@access/credit-ledger-domain';

export class AccountCache {
  // A Map iterates in insertion order: re-inserting on use makes the first key the least recently used.
  private readonly states = new Map<string, CreditAccountState>();

  constructor(readonly capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError(`cache capacity must be a positive integer, got ${capacity}`);
  }

  get size(): number {
    return this.states.size;
  }

  get(accountId: string): CreditAccountState | undefined {
    const state = this.states.get(accountId);
    if (state !== undefined) {
      this.states.delete(accountId);
      this.states.set(accountId, state);
    }
    return state;
  }

  set(accountId: string, state: CreditAccountState): void {
    this.states.delete(accountId);
    this.states.set(accountId, state);
    while (this.states.size > this.capacity) {
      const oldest = this.states.keys().next();
      if (oldest.done === true) break;
      this.states.delete(oldest.value);
    }
  }

  evict(accountId: string): void {
    this.states.delete(accountId);
  }

  clear(): void {
    this.states.clear();
  }
}
