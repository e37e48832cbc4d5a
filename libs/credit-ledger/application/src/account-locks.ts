/**
 * Per-account queues within one process: a batch runs once every earlier batch sharing one of its accounts has
 * finished. Batches on disjoint accounts run concurrently. Registration is synchronous and each batch waits
 * only for earlier ones, so there is no deadlock and no overtaking (first come, first served).
 */
export class AccountLocks {
  /** Per account, the last batch that holds or waits for it: a new batch waits for those of its accounts. */
  private readonly tails = new Map<string, Promise<void>>();

  /** Accounts held or awaited right now. */
  get size(): number {
    return this.tails.size;
  }

  async holding<T>(accountIds: readonly string[], fn: () => Promise<T>): Promise<T> {
    const earlier = new Set<Promise<void>>();
    for (const accountId of accountIds) {
      const tail = this.tails.get(accountId);
      if (tail !== undefined) earlier.add(tail);
    }
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    for (const accountId of accountIds) this.tails.set(accountId, mine);
    try {
      await Promise.all(earlier);
      return await fn();
    } finally {
      release();
      for (const accountId of accountIds) if (this.tails.get(accountId) === mine) this.tails.delete(accountId);
    }
  }
}
