/**
 * One run: build the world from a seed, run the scheduler for `events` steps with every fault switched on, checking
 * the invariants after each step, then drain (no new requests, no faults) until everything in flight has landed,
 * and check what must hold once the pipeline is quiet.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseCatalog, type Catalog } from '@access/catalog';
import { AdmissionReplicas } from './admission';
import { Callers } from './callers';
import { SimClickhouse } from './clickhouse';
import { SimIngestTable } from './ingest';
import { Invariants, type InvariantName } from './invariants';
import { SimLedger } from './ledger';
import type { SimOptions } from './options';
import { InvariantViolation, World } from './world';

export interface SimFailure {
  readonly invariant: InvariantName;
  readonly detail: string;
  readonly step: number;
  readonly virtualMs: number;
}

export interface SimResult {
  readonly seed: number;
  /** Scheduler steps run, the drain included: the simulated events. */
  readonly steps: number;
  readonly virtualMs: number;
  /** Hash of every step's time and label: equal hashes, equal runs. */
  readonly hash: number;
  readonly failure: SimFailure | null;
  readonly trace: readonly string[] | null;
  readonly counts: ReadonlyMap<string, number>;
}

/** Steps between full checks (`access ledger verify` on every account). */
const fullCheckEverySteps = 25_000;

let catalogCache: { timeoutMs: number; catalog: Catalog } | null = null;

/** The shipped plans and price book, with every reservation timeout set to the simulation's. */
export function simCatalog(reservationTimeoutMs: number): Catalog {
  if (catalogCache?.timeoutMs === reservationTimeoutMs) return catalogCache.catalog;
  const dir = join(__dirname, '..', '..', '..', 'config');
  const plans = readFileSync(join(dir, 'plans.yaml'), 'utf8').replace(/reservationTimeout: \S+/g, `reservationTimeout: ${reservationTimeoutMs}ms`);
  const parsed = parseCatalog(plans, readFileSync(join(dir, 'price-book.yaml'), 'utf8'));
  if (!parsed.ok) throw new Error(`the simulation's catalog does not parse: ${JSON.stringify(parsed.errors)}`);
  catalogCache = { timeoutMs: reservationTimeoutMs, catalog: parsed.value };
  return parsed.value;
}

export async function simulate(options: SimOptions): Promise<SimResult> {
  const world = new World(options, simCatalog(options.reservationTimeoutMs));
  const sched = world.sched;
  if (options.trace) sched.trace = [];
  const ledger = new SimLedger(world);
  const clickhouse = new SimClickhouse(world);
  new SimIngestTable(world, clickhouse, 'admission_decisions', world.topics.admissions);
  new SimIngestTable(world, clickhouse, 'request_usage', world.topics.usage);
  const admission = new AdmissionReplicas(world);
  const callers = new Callers(world, admission, ledger);
  const invariants = new Invariants(world, ledger, admission, clickhouse, callers);

  let failure: SimFailure | null = null;
  try {
    while (sched.step < options.events && (await sched.runOne())) {
      invariants.afterStep();
      if (sched.step % fullCheckEverySteps === 0) invariants.full();
    }
    // Drain: no new requests and no faults; what is scheduled (late completions, retries, copies) still happens.
    callers.stopped = true;
    world.draining = true;
    const quietAtMs = sched.nowMs + options.reservationTimeoutMs * 3 + 30_000;
    while (sched.nowMs <= quietAtMs && (await sched.runOne())) invariants.afterStep();
    invariants.full();
    invariants.drained();
  } catch (error) {
    if (!(error instanceof InvariantViolation)) throw error;
    failure = { invariant: error.invariant as InvariantName, detail: error.detail, step: sched.step, virtualMs: sched.nowMs - options.startMs };
  }
  return { seed: options.seed, steps: sched.step, virtualMs: sched.nowMs - options.startMs, hash: sched.hash, failure, trace: sched.trace, counts: world.counts };
}
