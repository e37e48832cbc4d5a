import { randomInt } from 'node:crypto';
import { completedEnvelope, decidedEnvelope } from '@access/admission-adapters';
import { EVENTS, goldenEvent } from '@access/contracts';
import { describe, expect, it } from 'vitest';
import { envelope } from './admission';
import type { InvariantName } from './invariants';
import { simOptions, type Defects, type Sabotage, type SimOptions } from './options';
import { simulate, type SimResult } from './simulation';

/** The contract's checks (one request_usage row per admission: usage-ingest keys completions by admissionId). */
const today: Partial<SimOptions> = {};

/** The CI budget (.ci/run): fresh seeds of 50,000 events, at least 1,000,000 events in all. */
const ciEventsPerSeed = 50_000;
const ciBudgetEvents = 1_000_000;

/**
 * Runs fresh seeds until one breaks an invariant or the budget is spent. Fresh (not fixed) seeds: the claim is that
 * the simulator finds the fault from wherever it starts, within what CI spends.
 */
async function hunt(options: Partial<SimOptions>, budgetEvents: number, eventsPerSeed: number): Promise<{ result: SimResult | null; spent: number; seeds: number[] }> {
  let spent = 0;
  const seeds: number[] = [];
  while (spent < budgetEvents) {
    const seed = randomInt(0, 2 ** 31);
    seeds.push(seed);
    const result = await simulate(simOptions(seed, { events: eventsPerSeed, ...options }));
    spent += result.steps;
    if (result.failure !== null) return { result, spent, seeds };
  }
  return { result: null, spent, seeds };
}

describe('replay', () => {
  it('given one seed, then two runs produce the same trace step for step, and another seed another trace', async () => {
    const first = await simulate(simOptions(1234, { events: 6_000, trace: true, ...today }));
    const second = await simulate(simOptions(1234, { events: 6_000, trace: true, ...today }));
    const other = await simulate(simOptions(1235, { events: 6_000, trace: true, ...today }));
    expect(first.failure).toBeNull();
    expect(first.trace!.length).toBe(first.steps);
    expect(first.steps).toBeGreaterThan(6_000);
    expect(second.trace).toEqual(first.trace);
    expect(second.hash).toBe(first.hash);
    expect(other.hash).not.toBe(first.hash);
  });

  it('given a seed that fails, then replaying it fails at the same step with the same finding', async () => {
    const options = { events: 30_000, defects: { ingestDeadLettersOnShutdown: true, lateCopyPricedNet: false }, ...today };
    const { result } = await hunt(options, 300_000, 30_000);
    expect(result?.failure).not.toBeNull();
    const again = await simulate(simOptions(result!.seed, options));
    expect(again.failure).toEqual(result!.failure);
    expect(again.hash).toBe(result!.hash);
  });
});

describe('every invariant holds on the real code', () => {
  it('given fresh seeds with every fault on, then no invariant breaks (with the drain checks at the end)', async () => {
    const { result, seeds } = await hunt(today, 60_000, 30_000);
    expect(result?.failure ?? null, `seeds ${seeds.join(', ')}`).toBeNull();
  });
});

describe('each invariant fails when the code is broken on purpose', () => {
  const cases: [Sabotage, InvariantName][] = [
    ['store-loses-event', 'credits-conserved'],
    ['settle-twice', 'settled-at-most-once'],
    ['ingest-ignores-watermark', 'one-usage-row-per-admission'],
    ['admission-frees-slot-early', 'limits-within-bound'],
    ['hold-released-twice', 'holds-never-negative'],
    ['publish-uncommitted-balance', 'balances-seen-were-published'],
  ];
  it.each(cases)('given sabotage %s, then %s breaks, from a fresh seed', async (sabotage, invariant) => {
    const { result, seeds } = await hunt({ sabotage, ...today }, 200_000, 20_000);
    expect(result?.failure?.invariant, `seeds ${seeds.join(', ')}`).toBe(invariant);
  });
});

describe('the historical defects are found within the CI budget, from a fresh seed', () => {
  const off: Defects = { ingestDeadLettersOnShutdown: false, lateCopyPricedNet: false };
  it.each<[string, Partial<Defects>, string]>([
    ['usage-ingest dead-lettering rows while ClickHouse shut down (28ba46f)', { ingestDeadLettersOnShutdown: true }, 'UNKNOWN_TABLE'],
    ['a late same-content completion priced net of allowance (b0775a0)', { lateCopyPricedNet: true }, 'LEDGER.CONFLICT'],
  ])('%s', async (_name, defect, symptom) => {
    const { result, spent, seeds } = await hunt({ defects: { ...off, ...defect }, ...today }, ciBudgetEvents, ciEventsPerSeed);
    expect(result?.failure?.invariant, `seeds ${seeds.join(', ')}`).toBe('no-dead-letters');
    expect(result!.failure!.detail).toContain(symptom);
    expect(spent).toBeLessThanOrEqual(ciBudgetEvents + ciEventsPerSeed);
  }, 600_000);
});

describe('envelope', () => {
  it('given decision or completion data, then it is the envelope KafkaDecisionSink builds, with the given id', () => {
    const decided = goldenEvent(EVENTS.admissionDecided).data;
    const completed = goldenEvent(EVENTS.usageRequestCompleted).data;
    expect(envelope(EVENTS.admissionDecided, 'id-1', decided.decidedAt, decided)).toEqual({ ...decidedEnvelope(decided), id: 'id-1' });
    expect(envelope(EVENTS.usageRequestCompleted, 'id-2', '2026-11-25T10:00:00.000Z', completed)).toEqual({ ...completedEnvelope(completed, '2026-11-25T10:00:00.000Z'), id: 'id-2' });
  });
});
