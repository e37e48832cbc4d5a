/**
 * Simulated Kafka: topics of ordered partitions (offset = index in the log), keyed by accountId like the real topics,
 * and consumer groups whose members own partitions. What the broker does to producers (a lost send, a retry that
 * stores a message twice, an ack lost after the message was stored) is decided by the producer model that calls
 * `append` (see sink.ts); what it does to consumers (redelivery from the committed position after a crash, a
 * partition moved to another member mid-batch) is the group's `rebalance`, driven by the fault plan.
 */
export interface Message<V> {
  readonly offset: number;
  readonly key: string;
  readonly value: V;
  readonly timestampMs: number;
}

/** Kafka's default partitioner differs (murmur2), but any stable hash keeps the property that matters: one key, one partition. */
export function partitionOf(key: string, partitions: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193) >>> 0;
  return h % partitions;
}

export class Topic<V> {
  readonly logs: Message<V>[][];
  private readonly listeners: ((partition: number) => void)[] = [];

  constructor(
    readonly name: string,
    readonly partitions: number,
  ) {
    this.logs = Array.from({ length: partitions }, () => []);
  }

  /** Stores a message at the end of its key's partition and wakes the consumers of that partition. */
  append(key: string, value: V, timestampMs: number): Message<V> {
    const partition = partitionOf(key, this.partitions);
    const log = this.logs[partition]!;
    const message = { offset: log.length, key, value, timestampMs };
    log.push(message);
    for (const listener of this.listeners) listener(partition);
    return message;
  }

  onAppend(listener: (partition: number) => void): void {
    this.listeners.push(listener);
  }

  get size(): number {
    return this.logs.reduce((n, log) => n + log.length, 0);
  }
}

/**
 * A consumer group: which live member owns which partition, and the offsets committed to Kafka. A rebalance bumps
 * the generation and deals the partitions out again; a member's batch in flight is not cancelled by it (the old
 * owner may still commit, as a real member past its session does), which is what the ledger's offset fence is for.
 */
export class ConsumerGroup {
  readonly owner: (string | null)[];
  readonly committed: number[];
  generation = 0;
  private readonly live: string[] = [];

  constructor(
    readonly name: string,
    readonly partitions: number,
    members: readonly string[],
  ) {
    this.owner = Array.from({ length: partitions }, () => null);
    this.committed = Array.from({ length: partitions }, () => 0);
    this.live.push(...members);
    this.rebalance(0);
  }

  get members(): readonly string[] {
    return this.live;
  }

  join(member: string, rotation: number): void {
    if (!this.live.includes(member)) this.live.push(member);
    this.rebalance(rotation);
  }

  leave(member: string, rotation: number): void {
    const i = this.live.indexOf(member);
    if (i >= 0) this.live.splice(i, 1);
    this.rebalance(rotation);
  }

  /** Deals the partitions round-robin over the live members, starting at `rotation`. */
  rebalance(rotation: number): void {
    this.generation++;
    for (let p = 0; p < this.partitions; p++) {
      this.owner[p] = this.live.length === 0 ? null : this.live[(p + rotation) % this.live.length]!;
    }
  }
}
