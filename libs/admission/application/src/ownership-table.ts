/**
 * Who decides for each partition of the account-keyed topics, as this replica knows it. Pure bookkeeping: the
 * Kafka adapter (ReplicaCoordinator) writes it from the consumer group's assignments, the HTTP edge reads it to
 * decide locally, forward to the owner, or wait for a hand-over to finish.
 *
 * - `owned`: this replica is the fenced-in writer of the partition and has applied everything its previous owner
 *   committed: it decides.
 * - `acquiring`: assigned here, fencing the previous writer or catching up on its last decisions: wait.
 * - `remote`: another replica owns it; `url` is where it answers (its ADMISSION_ADVERTISED_URL).
 * - `unknown`: nobody is known to own it (a rebalance is under way, or the owner left): wait.
 */
export type PartitionOwner =
  | { readonly kind: 'owned' }
  | { readonly kind: 'acquiring' }
  | { readonly kind: 'remote'; readonly url: string }
  | { readonly kind: 'unknown' };

const UNKNOWN: PartitionOwner = { kind: 'unknown' };

export class OwnershipTable {
  private readonly owners: PartitionOwner[];
  private waiters: { partition: number; resolve: () => void }[] = [];

  constructor(
    readonly partitions: number,
    private readonly partitionOf: (accountId: string) => number,
  ) {
    if (!Number.isInteger(partitions) || partitions < 1) throw new RangeError(`partitions must be a positive integer, got ${partitions}`);
    this.owners = Array.from({ length: partitions }, () => UNKNOWN);
  }

  /** The partition of the account-keyed topics that holds `accountId`. */
  partitionOfAccount(accountId: string): number {
    return this.partitionOf(accountId);
  }

  ownerOf(partition: number): PartitionOwner {
    return this.owners[partition] ?? UNKNOWN;
  }

  ownerOfAccount(accountId: string): PartitionOwner {
    return this.ownerOf(this.partitionOf(accountId));
  }

  owns(accountId: string): boolean {
    return this.ownerOfAccount(accountId).kind === 'owned';
  }

  /** Partitions this replica decides for now. */
  owned(): number[] {
    const out: number[] = [];
    this.owners.forEach((o, p) => {
      if (o.kind === 'owned') out.push(p);
    });
    return out;
  }

  set(partition: number, owner: PartitionOwner): void {
    if (partition < 0 || partition >= this.partitions) throw new RangeError(`no partition ${partition} of ${this.partitions}`);
    const before = this.owners[partition] as PartitionOwner;
    if (before.kind === owner.kind && (owner.kind !== 'remote' || (before.kind === 'remote' && before.url === owner.url))) return;
    this.owners[partition] = owner;
    const ready = this.waiters.filter((w) => w.partition === partition);
    if (ready.length === 0) return;
    this.waiters = this.waiters.filter((w) => w.partition !== partition);
    for (const w of ready) w.resolve();
  }

  /**
   * Resolves at the next change of the partition's owner, or after `timeoutMs` (whichever comes first); a request
   * that found nobody to decide waits here instead of spinning.
   */
  changed(partition: number, timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        cancel();
        resolve();
      }, Math.max(0, timeoutMs));
      const cancel = this.onNextChange(partition, () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Calls `listener` once, at the next change of the partition's owner; returns a function that cancels it. */
  onNextChange(partition: number, listener: () => void): () => void {
    const waiter = { partition, resolve: listener };
    this.waiters.push(waiter);
    return () => {
      this.waiters = this.waiters.filter((w) => w !== waiter);
    };
  }

  /** A copy for logs, metrics and the readiness detail: partition → 'owned' | 'acquiring' | url | 'unknown'. */
  snapshot(): string[] {
    return this.owners.map((o) => (o.kind === 'remote' ? o.url : o.kind));
  }
}
