/**
 * usage-ingest against the simulated ClickHouse. The deciding is the real code: `mapEvent` (row building),
 * `planBatch` and `RecentIds` (the dedupe), and `isRetriableStoreError` (which errors may dead-letter). The sink
 * around them follows TableIngest (@access/usage-application) and EventConsumer step for step, synchronously: recover
 * a partition's watermark and recent ids after every rebalance or retriable failure, plan, look up old ids, insert in
 * offset order, and commit the Kafka offset only after the rows are stored; a retriable failure retries the batch
 * with backoff, a non-retriable one re-runs it one event at a time and dead-letters the events that still fail.
 *
 * A rebalance moves a partition between batches: a kafkajs member finishes the batch in hand before it rejoins.
 */
import type { AnyAccessEvent } from '@access/contracts';
import { NonRetriableError, RetriableError, isRetriable } from '@access/platform-kafka';
import { priceFnOf } from '@access/usage-adapters';
import { RecentIds, dedupeKeyOf, defaultIngestLimits, mapEvent, planBatch, type Candidate, type IngestTable, type PriceFn } from '@access/usage-domain';
import type { SimClickhouse, StoredRow } from './clickhouse';
import { storeErrorClassifierFor } from './defects';
import { ConsumerGroup, type Message, type Topic } from './kafka';
import type { World } from './world';

/** Small enough that the lookup path (ids older than the window) is exercised; the limit's minimum. */
const dedupeWindowIds = 1_000;

interface PartitionState {
  generation: number;
  watermark: bigint;
  recent: RecentIds;
}

class Instance {
  alive = true;
  readonly states = new Map<number, PartitionState>();
  readonly busy = new Set<number>();
  readonly wakeScheduled = new Set<number>();
  /** Fetch position per partition (from the committed offset on assignment). */
  readonly position = new Map<number, number>();
  constructor(readonly id: string) {}
}

export class SimIngestTable {
  readonly group: ConsumerGroup;
  private readonly instances: Instance[];
  private readonly price: PriceFn;
  private readonly isRetriableStoreError: (error: unknown) => boolean;

  constructor(
    private readonly world: World,
    private readonly clickhouse: SimClickhouse,
    readonly table: IngestTable,
    private readonly topic: Topic<AnyAccessEvent>,
  ) {
    this.instances = [new Instance(`ingest-a/${table}`), new Instance(`ingest-b/${table}`)];
    this.group = new ConsumerGroup(`usage-ingest.${table}`, world.options.partitions, this.instances.map((i) => i.id));
    this.price = priceFnOf(world.catalog.priceBook);
    this.isRetriableStoreError = storeErrorClassifierFor(world.options.defects);
    topic.onAppend((p) => this.wake(p));
    this.assign();
  }

  /** Kafka's committed offsets are where a new owner starts (the ingest has no other store of positions). */
  private assign(): void {
    for (const inst of this.instances) {
      inst.position.clear();
      for (let p = 0; p < this.group.partitions; p++) {
        if (this.group.owner[p] === inst.id) {
          inst.position.set(p, this.group.committed[p]!);
          this.wake(p);
        }
      }
    }
  }

  private wake(p: number): void {
    const owner = this.instances.find((i) => i.id === this.group.owner[p]);
    if (owner === undefined || !owner.alive || owner.busy.has(p) || owner.wakeScheduled.has(p)) return;
    if ((owner.position.get(p) ?? 0) >= this.topic.logs[p]!.length) return;
    owner.wakeScheduled.add(p);
    this.world.sched.after(this.world.rng.int(1, 20), `ingest.fetch ${owner.id}:${p}`, () => this.fetch(owner, p));
  }

  private fetch(inst: Instance, p: number): void {
    inst.wakeScheduled.delete(p);
    if (!inst.alive || this.group.owner[p] !== inst.id || inst.busy.has(p)) return;
    const from = inst.position.get(p) ?? 0;
    const messages = this.topic.logs[p]!.slice(from, from + 100);
    if (messages.length === 0) return;
    inst.busy.add(p);
    if (this.world.fault('clickhouseShutdown')) this.clickhouse.shutDown();
    this.run(inst, p, messages, 0);
  }

  /** EventConsumer + RawBatchConsumer around TableIngest.ingest. */
  private run(inst: Instance, p: number, messages: Message<AnyAccessEvent>[], attempt: number): void {
    const world = this.world;
    const poison: string[] = [];
    try {
      try {
        this.handle(inst, p, messages);
      } catch (error) {
        if (isRetriable(error)) throw error;
        for (const message of messages) {
          try {
            this.handle(inst, p, [message]);
          } catch (single) {
            if (isRetriable(single)) throw single;
            poison.push((single as Error).message);
          }
        }
      }
    } catch {
      world.count('ingest.batch_retry');
      const delayMs = Math.min(defaultIngestLimits.retryBackoffMsMax, 100 * 2 ** Math.min(attempt + 1, 10));
      world.sched.after(delayMs, `ingest.retry ${inst.id}:${p}`, () => {
        if (!inst.alive || this.group.owner[p] !== inst.id) {
          inst.busy.delete(p);
          return;
        }
        this.run(inst, p, messages, attempt + 1);
      });
      return;
    }
    for (const reason of poison) world.deadLetter(`usage-ingest/${this.table}`, reason);
    const next = messages[messages.length - 1]!.offset + 1;
    // A crash after the rows are stored and before the offset is committed: the range is delivered again.
    if (world.fault('consumerCrash')) return this.crash(inst);
    this.group.committed[p] = next;
    inst.position.set(p, next);
    inst.busy.delete(p);
    if (world.fault('rebalance')) {
      this.group.rebalance(world.rng.int(0, 1));
      this.assign();
    } else this.wake(p);
  }

  /** TableIngest.ingest for one partition's batch. */
  private handle(inst: Instance, p: number, messages: Message<AnyAccessEvent>[]): void {
    const world = this.world;
    let state = inst.states.get(p);
    if (state === undefined || state.generation !== this.group.generation) {
      state = this.recover(p);
      inst.states.set(p, state);
    }
    const nowMs = world.nowMs;
    const kept: { message: Message<AnyAccessEvent>; admissionId: string; key: string; keyTimeMs: number }[] = [];
    const dead: string[] = [];
    for (const message of messages) {
      const mapped = mapEvent(message.value, { topic: this.topic.name, partition: p, offset: String(message.offset), timestampMs: message.timestampMs }, { price: this.price, nowMs });
      if (!mapped.ok) dead.push(mapped.reason);
      else if (mapped.table !== this.table) dead.push(`${message.value.type} is not stored in ${this.table}`);
      else {
        const { key, keyTimeMs } = dedupeKeyOf(message.value);
        kept.push({ message, admissionId: (mapped.row as { admission_id: string }).admission_id, key, keyTimeMs });
      }
    }
    // Keyed as the real sink keys them (dedupeKeyOf): a completion by its admissionId, any other event by source and id.
    const candidates: Candidate[] = kept.map((k) => ({ key: k.key, offset: String(k.message.offset), keyTimeMs: k.keyTimeMs }));
    const plan =
      world.options.sabotage === 'ingest-ignores-watermark'
        ? planBatch(candidates, -1n, new RecentIds(dedupeWindowIds, true), defaultIngestLimits.clockSkewMarginMs)
        : planBatch(candidates, state.watermark, state.recent, defaultIngestLimits.clockSkewMarginMs);
    let found = new Set<string>();
    if (plan.lookup.length > 0 && world.options.sabotage !== 'ingest-ignores-watermark') {
      world.count('ingest.lookup', plan.lookup.length);
      found = this.guard(state, () => this.clickhouse.existingKeys(this.table, plan.lookup.map((i) => kept[i]!.key)));
    }
    const toInsert = plan.insert.map((i) => kept[i]!).filter((k) => !found.has(k.key));
    if (toInsert.length > 0) {
      const rows: StoredRow[] = toInsert.map((k) => ({ eventId: k.message.value.id, key: k.key, partition: p, offset: k.message.offset, timestampMs: k.message.timestampMs, admissionId: k.admissionId }));
      this.guard(state, () => this.clickhouse.insert(this.table, rows));
      for (const k of toInsert) state.recent.add(k.key, k.message.timestampMs);
      state.watermark = BigInt(toInsert[toInsert.length - 1]!.message.offset);
    }
    for (const reason of dead) world.deadLetter(`usage-ingest/${this.table}`, reason);
  }

  private guard<T>(state: PartitionState, run: () => T): T {
    try {
      return run();
    } catch (error) {
      if (this.isRetriableStoreError(error)) {
        state.generation = -1;
        throw new RetriableError(`ClickHouse: ${(error as Error).message}`, { cause: error });
      }
      throw new NonRetriableError(`ClickHouse refused the rows: ${(error as Error).message}`, { cause: error });
    }
  }

  private recover(p: number): PartitionState {
    try {
      const stored = this.clickhouse.watermark(this.table, p);
      const from = stored.watermark - BigInt(dedupeWindowIds);
      const recentRows = stored.rows === 0 ? [] : this.clickhouse.recentKeys(this.table, p, from < -1n ? -1n : from);
      const recent = new RecentIds(dedupeWindowIds, recentRows.length === stored.rows);
      for (const r of recentRows) recent.add(r.key, r.timestampMs);
      this.world.count('ingest.recover');
      return { generation: this.group.generation, watermark: stored.watermark, recent };
    } catch (error) {
      throw new RetriableError(`recovering ${this.table}:${p} from ClickHouse: ${(error as Error).message}`, { cause: error });
    }
  }

  private crash(inst: Instance): void {
    inst.alive = false;
    inst.states.clear();
    inst.busy.clear();
    inst.wakeScheduled.clear();
    this.group.leave(inst.id, 0);
    this.assign();
    this.world.sched.after(this.world.rng.int(200, 2_000), `ingest.restart ${inst.id}`, () => {
      inst.alive = true;
      this.group.join(inst.id, this.world.rng.int(0, 1));
      this.assign();
    });
  }
}
