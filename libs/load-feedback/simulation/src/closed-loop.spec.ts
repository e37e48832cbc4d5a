import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parsePlans, parsePriceBook } from '@access/catalog';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseFeedbackConfig } from '@access/load-feedback-domain';
import { runClosedLoop, stepScenario, type ClosedLoopRun, type ClosedLoopTick } from './closed-loop';

const configDir = join(dirname(fileURLToPath(import.meta.url)), '../../../../config');
const read = (name: string) => readFileSync(join(configDir, name), 'utf8');

function loadRun(): ClosedLoopRun {
  const feedback = parseFeedbackConfig(read('feedback.yaml'));
  const plans = parsePlans(read('plans.yaml'));
  const priceBook = parsePriceBook(read('price-book.yaml'));
  if (!feedback.ok || !plans.ok || !priceBook.ok) throw new Error('the shipped config does not parse');
  return runClosedLoop({ feedback: feedback.value, plans: plans.value, priceBook: priceBook.value, ...stepScenario, seed: 7 });
}

const admissionRatio = (ticks: readonly ClosedLoopTick[], priority: 'critical' | 'standard' | 'batch') => {
  const requests = ticks.reduce((s, t) => s + t.byPriority[priority].requests, 0);
  const admitted = ticks.reduce((s, t) => s + t.byPriority[priority].admitted, 0);
  return admitted / requests;
};

/**
 * The whole loop: simulated users → admission's real decision function → fleet model → controller →
 * multipliers back into admission. Demand steps from 50% to 200% of capacity at tick 30 and back at 80.
 */
describe('closed loop: controller + fleet model + admission', () => {
  const target = 0.8;
  const { stepUpAtTick, stepDownAtTick } = stepScenario;
  let run: ClosedLoopRun;
  beforeAll(() => {
    run = loadRun();
  });

  it('drives the loop with the demand the scenario asks for', () => {
    const overload = run.ticks.slice(stepUpAtTick + 1, stepDownAtTick);
    const meanRequested = overload.reduce((s, t) => s + t.requestedRatio, 0) / overload.length;
    expect(meanRequested).toBeGreaterThan(1.9);
    expect(meanRequested).toBeLessThan(2.1);
  });

  it('holds utilization within target ± 5% from 10 ticks after the step to 200% until demand falls', () => {
    for (const t of run.ticks.slice(stepUpAtTick + 10, stepDownAtTick)) {
      expect(Math.abs(t.utilization - target), `tick ${t.tick}: utilization ${t.utilization}`).toBeLessThanOrEqual(0.05);
    }
  });

  it('admits at least 99% of critical requests, overload included', () => {
    expect(admissionRatio(run.ticks, 'critical')).toBeGreaterThanOrEqual(0.99);
    expect(admissionRatio(run.ticks.slice(stepUpAtTick, stepDownAtTick), 'critical')).toBeGreaterThanOrEqual(0.99);
  });

  it('sheds batch first: batch is shed (load_shed) while standard keeps most of its traffic', () => {
    const firstCut = (priority: 'standard' | 'batch') =>
      run.ticks.findIndex((t) => t.changes.some((c) => c.priority === priority && c.reason === 'overload'));
    expect(firstCut('batch')).toBeGreaterThanOrEqual(stepUpAtTick);
    expect(firstCut('batch')).toBeLessThanOrEqual(firstCut('standard'));

    const settled = run.ticks.slice(stepUpAtTick + 10, stepDownAtTick);
    for (const t of settled) {
      expect(t.byPriority.batch.meanMultiplier, `tick ${t.tick}`).toBeLessThan(t.byPriority.standard.meanMultiplier);
    }
    expect(admissionRatio(settled, 'batch')).toBeLessThan(0.05);
    expect(admissionRatio(settled, 'standard')).toBeGreaterThan(0.6);
    expect(settled.reduce((s, t) => s + t.byPriority.batch.rejected.load_shed, 0)).toBeGreaterThan(0);
    expect(settled.reduce((s, t) => s + t.byPriority.standard.rejected.load_shed, 0)).toBe(0);
  });

  it('recovers everything when demand falls: multipliers back to at least 1, admission as before the step', () => {
    const last = run.ticks[run.ticks.length - 1]!;
    for (const [key, c] of Object.entries(last.classes)) expect(c.multiplier, key).toBeGreaterThanOrEqual(1);
    // Before the step, a few requests of the heaviest simulated users already hit their plan's own
    // limits; recovered means back to that, not to 100%.
    const before = run.ticks.slice(stepUpAtTick - 10, stepUpAtTick);
    const tail = run.ticks.slice(-10);
    for (const p of ['critical', 'standard', 'batch'] as const) {
      expect(admissionRatio(tail, p), p).toBeGreaterThanOrEqual(admissionRatio(before, p) - 0.01);
      expect(admissionRatio(tail, p), p).toBeGreaterThan(0.95);
    }
    for (const t of tail) expect(t.utilization).toBeLessThan(target);
  });

  it('restores slowly: no multiplier rises by more than stepUpMax in one tick', () => {
    for (let i = 1; i < run.ticks.length; i++) {
      for (const [key, c] of Object.entries(run.ticks[i]!.classes)) {
        expect(c.multiplier - run.ticks[i - 1]!.classes[key]!.multiplier).toBeLessThanOrEqual(0.05 + 1e-9);
      }
    }
  });
});
