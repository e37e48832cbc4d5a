/**
 * What every simulated component shares: the scheduler (and so the virtual clock), the one Rng, the topics, the
 * options (fault rates, defect and sabotage switches) and the record of what happened that the invariants read.
 */
import type { Catalog } from '@access/catalog';
import type { AnyAccessEvent, BalanceChangedV1 } from '@access/contracts';
import { Topic } from './kafka';
import type { SimOptions } from './options';
import { Rng } from './rng';
import { Scheduler } from './scheduler';

/** A ledger event as access.ledger.v1 carries it, reduced to what admission reads from it. */
export interface LedgerMessage {
  readonly id: string;
  readonly type: string;
  readonly accountId: string;
  readonly version: number;
  readonly admissionId: string | null;
}

export interface Topics {
  readonly admissions: Topic<AnyAccessEvent>;
  readonly usage: Topic<AnyAccessEvent>;
  readonly ledger: Topic<LedgerMessage>;
  readonly balances: Topic<BalanceChangedV1>;
}

/** A broken invariant: the run stops at the step that broke it. */
export class InvariantViolation extends Error {
  override readonly name = 'InvariantViolation';
  constructor(
    readonly invariant: string,
    readonly detail: string,
  ) {
    super(`${invariant}: ${detail}`);
  }
}

export class World {
  readonly sched: Scheduler;
  readonly rng: Rng;
  readonly topics: Topics;
  /** Dead letters written by any consumer, with the reason. The simulated callers only send valid events. */
  readonly deadLetters: { consumer: string; reason: string }[] = [];
  /** Set for the drain at the end of a run: no fault happens any more. */
  draining = false;
  /** Counters for the summary (faults injected, outcomes seen). */
  readonly counts = new Map<string, number>();

  constructor(
    readonly options: SimOptions,
    readonly catalog: Catalog,
  ) {
    this.sched = new Scheduler(options.startMs);
    this.rng = new Rng(options.seed);
    const p = options.partitions;
    this.topics = {
      admissions: new Topic('access.admissions.v1', p),
      usage: new Topic('access.usage.v1', p),
      ledger: new Topic('access.ledger.v1', p),
      balances: new Topic('access.balances.v1', p),
    };
  }

  get nowMs(): number {
    return this.sched.nowMs;
  }

  get nowIso(): string {
    return new Date(this.sched.nowMs).toISOString();
  }

  count(name: string, n = 1): void {
    this.counts.set(name, (this.counts.get(name) ?? 0) + n);
  }

  /** Draws whether a fault happens (and counts it): every fault goes through here. */
  fault(name: keyof SimOptions['faults']): boolean {
    if (this.draining) return false;
    const happens = this.rng.chance(this.options.faults[name]);
    if (happens) this.count(`fault.${name}`);
    return happens;
  }

  deadLetter(consumer: string, reason: string): void {
    this.deadLetters.push({ consumer, reason });
  }
}
