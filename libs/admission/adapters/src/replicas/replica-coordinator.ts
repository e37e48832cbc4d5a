import { NotOwnerError, type OwnershipTable } from '@access/admission-application';
import {
  errorMessage,
  isFencingError,
  PartitionGroup,
  TransactionalProducer,
  type Kafka,
  type KafkaAdmin,
  type OutgoingMessage,
} from '@access/platform-kafka';
import type { Logger } from '@access/platform-observability';
import { replicaLimits } from './limits';
import { OWNER_GENERATION_HEADER } from './forwarder';

/** What the coordinator needs of the state reader: has it applied the partition up to an offset? */
export interface PositionSource {
  waitForPosition(topic: string, partition: number, offset: bigint): Promise<void>;
}

/** What each replica publishes in its group metadata. */
export interface ReplicaMemberData {
  readonly replicaId: string;
  readonly url: string;
}

export interface ReplicaCoordinatorOptions {
  readonly kafka: Kafka;
  readonly admin: KafkaAdmin;
  readonly table: OwnershipTable;
  readonly reader: PositionSource;
  /** The account-keyed topic whose partitions are owned, and that decisions are written to. */
  readonly admissionsTopic: string;
  /**
   * `access.usage.v1`, keyed by account with as many partitions as the admissions topic, so partition p holds the
   * completions of partition p's accounts: caught up at takeover as well (see the class comment).
   */
  readonly usageTopic: string;
  readonly groupId: string;
  /** Decisions for partition p are written with transactional id `${transactionalIdPrefix}.${p}`. */
  readonly transactionalIdPrefix: string;
  readonly member: ReplicaMemberData;
  readonly sessionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly logger: Logger;
  /** A partition became decidable here: `ms` since this replica was assigned it (fence and catch-up). */
  readonly onAcquired?: (partition: number, ms: number) => void;
}

interface Acquisition {
  readonly generation: number;
  producer: TransactionalProducer | null;
}

/**
 * Admission's replicas as one service (CONTRACTS.md, "Admission replicas"): each replica is a member of one consumer
 * group over `access.admissions.v1`, and decides only for the partitions the group assigns it.
 *
 * Taking a partition over, in this order, is what keeps N replicas as exact as one:
 * 1. fence: initialize the partition's transactional id, so the previous owner (dead, paused or partitioned) can
 *    commit nothing more, and its open transaction is aborted;
 * 2. catch up: read the partition, committed decisions only, up to its high watermark taken after the fence, so the
 *    previous owner's every durable decision is in this replica's state (rate windows, slots, holds, idempotency); and
 *    the same partition of the usage topic up to its high watermark, so every completion the previous owner accepted
 *    is too. Without the completions a slot would stay taken (too strict), and worse, a completed request whose
 *    reservation has run out would look abandoned: its hold would end at the expiry although the ledger charges it,
 *    and until the balance showed the charge this replica could spend those credits a second time (found by the
 *    replicas property test, libs/admission/application/src/replicas.property.spec.ts);
 * 3. decide.
 * A partition that leaves is given up at once; anything it still had in flight fails to commit (fenced) and is
 * answered as "not the owner", which the HTTP edge routes to the new owner.
 *
 * Who owns the other partitions is read from the group itself: each member's metadata carries its advertised URL.
 */
export class ReplicaCoordinator {
  private readonly group: PartitionGroup;
  private readonly acquisitions = new Map<number, Acquisition>();
  private generation = 0;
  private refreshing: Promise<void> | null = null;
  private lastRefreshMs = 0;
  private stopped = false;
  private joined = false;

  constructor(private readonly options: ReplicaCoordinatorOptions) {
    this.group = new PartitionGroup(options.kafka, {
      groupId: options.groupId,
      topic: options.admissionsTopic,
      memberData: JSON.stringify(options.member),
      sessionTimeoutMs: options.sessionTimeoutMs,
      heartbeatIntervalMs: options.heartbeatIntervalMs,
      onAssigned: (partitions, generation, rejoined) => this.onAssigned(partitions, generation, rejoined),
      onError: (error) => options.logger.warn({ err: errorMessage(error) }, 'admission replica group: member restarted'),
    });
  }

  /** True once this replica has joined the group at least once (it knows what it owns). */
  get hasJoined(): boolean {
    return this.joined;
  }

  async start(): Promise<void> {
    await this.group.start();
  }

  /** Leaves the group (the others take the partitions over without waiting for a session timeout). */
  async stop(): Promise<void> {
    this.stopped = true;
    const producers = [...this.acquisitions.values()].map((a) => a.producer).filter((p): p is TransactionalProducer => p !== null);
    this.acquisitions.clear();
    for (let p = 0; p < this.options.table.partitions; p++) this.options.table.set(p, { kind: 'unknown' });
    await this.group.stop();
    await Promise.all(producers.map((p) => p.disconnect()));
  }

  /**
   * Sends a decision through the fence of its partition; rejects with NotOwnerError when this replica does not own the
   * partition (any more).
   */
  publish(message: OutgoingMessage, partition: number): Promise<void> {
    const acquisition = this.acquisitions.get(partition);
    const producer = acquisition?.producer ?? null;
    if (producer === null || this.options.table.ownerOf(partition).kind !== 'owned') {
      return Promise.reject(new NotOwnerError(`this replica does not own partition ${partition}`));
    }
    const headers = { ...message.headers, [OWNER_GENERATION_HEADER]: String(acquisition!.generation) };
    return producer.send({ ...message, headers, partition }).catch((error: unknown) => {
      const current = this.acquisitions.get(partition)?.producer === producer;
      if (isFencingError(error)) {
        // Only if the fenced producer is still the partition's: a later acquisition here has a producer of its own.
        if (current) {
          this.giveUp(partition, 'fenced by another replica');
          void this.reclaimIfAssigned(partition);
        }
        throw new NotOwnerError(`partition ${partition} was taken over by another replica`);
      }
      // Any other failed commit leaves kafkajs's transaction state in doubt: take the partition over again with a new
      // producer (which fences this one) while the group still assigns it here; this decision is answered 503.
      if (current && !producer.isUsable) this.retake(partition, `a commit failed: ${errorMessage(error)}`);
      throw error;
    });
  }

  /**
   * Reads the group's members and assignment and records the remote owners. Called after each rebalance and when a
   * forward fails; concurrent calls share one read, and calls closer together than the throttle share the last.
   */
  refreshOwners(): Promise<void> {
    if (this.refreshing !== null) return this.refreshing;
    const sinceMs = Date.now() - this.lastRefreshMs;
    const delayMs = Math.max(0, replicaLimits.ownerRefreshIntervalMsMin - sinceMs);
    this.refreshing = new Promise<void>((resolve) => setTimeout(resolve, delayMs))
      .then(() => this.readOwners())
      .catch((error: unknown) => this.options.logger.warn({ err: errorMessage(error) }, 'reading the admission replica group'))
      .finally(() => {
        this.lastRefreshMs = Date.now();
        this.refreshing = null;
      });
    return this.refreshing;
  }

  private async readOwners(): Promise<void> {
    const view = await this.group.describe();
    if (view.state !== 'Stable') {
      // Assignments are being redone. The owners known so far keep deciding until they hear their new assignment (and
      // fencing keeps that safe), so requests go on being forwarded to them; look again shortly.
      if (!this.stopped) setTimeout(() => void this.refreshOwners(), replicaLimits.ownerRefreshIntervalMsMin).unref();
      return;
    }
    const remote = new Map<number, string>();
    for (const member of view.members) {
      let data: Partial<ReplicaMemberData>;
      try {
        data = JSON.parse(member.data) as Partial<ReplicaMemberData>;
      } catch {
        continue;
      }
      if (data.replicaId === this.options.member.replicaId || typeof data.url !== 'string') continue;
      for (const p of member.partitions) remote.set(p, data.url);
    }
    for (let p = 0; p < this.options.table.partitions; p++) {
      if (this.acquisitions.has(p)) continue;
      const url = remote.get(p);
      this.options.table.set(p, url === undefined ? { kind: 'unknown' } : { kind: 'remote', url });
    }
  }

  private onAssigned(partitions: readonly number[], generation: number, rejoined: boolean): void {
    if (this.stopped) return;
    this.generation = generation;
    this.joined = true;
    const assigned = new Set(partitions);
    // A member the group had dropped may get partitions back that another replica owned (and fenced) meanwhile: what
    // it held is stale, so it takes every assigned partition over afresh.
    for (const p of [...this.acquisitions.keys()]) {
      if (rejoined) this.giveUp(p, 'this replica was dropped from the group and rejoined');
      else if (!assigned.has(p)) this.giveUp(p, 'assigned to another replica');
    }
    for (const p of partitions) if (!this.acquisitions.has(p)) void this.acquire(p, generation);
    this.options.logger.info({ partitions, generation }, 'admission replica group: partitions assigned');
    void this.refreshOwners();
  }

  private giveUp(partition: number, why: string): void {
    const acquisition = this.acquisitions.get(partition);
    if (acquisition === undefined) return;
    this.acquisitions.delete(partition);
    this.options.table.set(partition, { kind: 'unknown' });
    void acquisition.producer?.disconnect();
    this.options.logger.info({ partition, why }, 'admission replica: partition given up');
    void this.refreshOwners();
  }

  /** Gives a partition up and takes it over again, if the group still assigns it here. */
  private retake(partition: number, why: string): void {
    this.giveUp(partition, why);
    if (!this.stopped && this.group.partitions.includes(partition)) void this.acquire(partition, this.generation);
  }

  /**
   * After this replica was fenced on a partition: takes it over again if the group coordinator still assigns it here.
   * The fencer may be a stale acquisition, not a new owner: a partition given up at a rebalance while its producer's
   * InitProducerId was still in flight (slow while the broker moves transaction coordinators) bumps the epoch after
   * the rightful owner's. A real zombie is not reassigned: its session expired, so its member id is no longer in the
   * group, and it waits for its own rejoin.
   */
  private async reclaimIfAssigned(partition: number): Promise<void> {
    // Asks until the coordinator answers (the broker may be restarting) or a rebalance settles the partition.
    for (let attempt = 0; !this.stopped && !this.acquisitions.has(partition) && this.group.partitions.includes(partition); attempt++) {
      const assigned = await this.group.assignsHere(partition).catch(() => 'rebalancing' as const);
      if (assigned !== 'rebalancing') {
        if (assigned && !this.stopped && !this.acquisitions.has(partition) && this.group.partitions.includes(partition)) {
          this.options.logger.info({ partition }, 'admission replica: the group still assigns a fenced partition here; taking it over again');
          void this.acquire(partition, this.generation);
        }
        return;
      }
      // A rebalance ends with onAssigned, which takes over whatever it assigns here.
      await new Promise((r) => setTimeout(r, replicaLimits.ownerRefreshIntervalMsMin * 2 ** Math.min(attempt, 4)));
    }
  }

  /** Fence, catch up, decide (see the class comment). Retries until done or the partition moved on. */
  private async acquire(partition: number, generation: number): Promise<void> {
    const t0 = performance.now();
    const acquisition: Acquisition = { generation, producer: null };
    this.acquisitions.set(partition, acquisition);
    this.options.table.set(partition, { kind: 'acquiring' });
    const current = () => !this.stopped && this.acquisitions.get(partition) === acquisition;
    const topic = this.options.admissionsTopic;
    for (let attempt = 0; current(); attempt++) {
      const producer = new TransactionalProducer(this.options.kafka, `${this.options.transactionalIdPrefix}.${partition}`);
      try {
        await producer.connect();
        if (!current()) {
          await producer.disconnect();
          return;
        }
        acquisition.producer = producer;
        const [end, usageEnd] = await Promise.all([
          this.options.admin.highWatermarks(topic).then((ends) => ends.get(partition) ?? 0n),
          this.options.admin.highWatermarks(this.options.usageTopic).then((ends) => ends.get(partition) ?? 0n),
        ]);
        await Promise.all([this.options.reader.waitForPosition(topic, partition, end), this.options.reader.waitForPosition(this.options.usageTopic, partition, usageEnd)]);
        if (!current()) return;
        this.options.table.set(partition, { kind: 'owned' });
        const ms = performance.now() - t0;
        this.options.onAcquired?.(partition, ms);
        this.options.logger.info({ partition, ms: Math.round(ms), end: end.toString() }, 'admission replica: partition taken over');
        return;
      } catch (error) {
        acquisition.producer = null;
        await producer.disconnect();
        this.options.logger.warn({ partition, attempt, err: errorMessage(error) }, 'admission replica: taking a partition over failed; retrying');
        await new Promise((r) => setTimeout(r, Math.min(replicaLimits.acquireRetryMsMax, 50 * 2 ** Math.min(attempt, 6))));
      }
    }
  }
}
