import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Priority } from '../classes';
import { defaultFeedbackConfig } from '../default-config';
import type { FeedbackConfig } from '../feedback-config';
import { directionChanges, multipliersOf, runPlant, tickMs, type Plant, type PlantClass } from '../testing/plant';
import { createLoadController, type ClassDemand, type LoadSample } from './load-controller';

// One model, so that the plant's fleet is the only one (a second, silent fleet would go stale).
const config: FeedbackConfig = { ...defaultFeedbackConfig, models: ['sora-2'] };
const controller = createLoadController(config);
const capacity = 1000;
const target = config.controller.targetUtilization;
const band = config.controller.hysteresisBand;

/** Every class of sora-2, asking for `share` of capacity each, with limits that let through `limitAtOne`. */
function plant(requestedByPriority: Record<Priority, (t: number) => number>, limitAtOne = 400): Plant {
  const classes: PlantClass[] = Object.entries(config.plans).flatMap(([plan, p]) =>
    p.priorities.map((priority) => ({
      plan,
      priority,
      // The tier's demand is split evenly between the plans that may send it.
      requested: (t: number) => requestedByPriority[priority](t) / plansSending(priority),
      limitAtOne,
    })),
  );
  return { model: 'sora-2', capacityCreditsPerSecond: capacity, classes };
}

function plansSending(priority: Priority): number {
  return Object.values(config.plans).filter((p) => p.priorities.includes(priority)).length;
}

const constant = (value: number) => () => value;
const step = (before: number, after: number, at: number) => (t: number) => (t < at ? before : after);

function sample(model: string, utilization: number, sampledAtMs: number, capacityCreditsPerSecond = capacity): LoadSample {
  return { model, region: 'eu-1', utilization, queueDepth: 0, p95LatencyMs: 900, capacityCreditsPerSecond, sampledAtMs };
}

function demandRow(plan: string, priority: Priority, admitted: number, requested = admitted): ClassDemand {
  return { model: 'sora-2', plan, priority, admittedCreditsPerSecond: admitted, requestedCreditsPerSecond: requested };
}

describe('load controller', () => {
  describe('given a fleet inside the hysteresis band', () => {
    it('changes nothing, so a loop at target stays put', () => {
      const state = controller.initialState(0);
      const { changes } = controller.tick(
        state,
        { samples: [sample('sora-2', target + band * 0.9, 5000)], demand: [demandRow('pro', 'standard', 820)] },
        5000,
      );
      expect(changes).toEqual([]);
    });
  });

  describe('given overload that batch alone can absorb', () => {
    it('cuts batch and leaves standard and critical untouched', () => {
      const state = controller.initialState(0);
      const { changes } = controller.tick(
        state,
        {
          samples: [sample('sora-2', 1, 5000)],
          demand: [demandRow('pro', 'standard', 500), demandRow('free', 'batch', 300), demandRow('plus', 'batch', 300), demandRow('enterprise', 'critical', 50)],
        },
        5000,
      );
      expect(changes.map((c) => `${c.plan}|${c.priority}`).sort()).toEqual(['free|batch', 'plus|batch']);
      for (const change of changes) {
        expect(change.reason).toBe('overload');
        expect(change.multiplier).toBe(1 - config.controller.stepDownMax);
        expect(change.inputs).toMatchObject({ capacityCreditsPerSecond: capacity, modelAdmittedCreditsPerSecond: 1150, previousMultiplier: 1 });
      }
    });
  });

  describe('given overload larger than all of batch', () => {
    it('cuts standard by what batch cannot shed, never critical inside its reserve', () => {
      const state = controller.initialState(0);
      const { changes } = controller.tick(
        state,
        {
          samples: [sample('sora-2', 1, 5000)],
          demand: [demandRow('pro', 'standard', 800), demandRow('free', 'batch', 200), demandRow('enterprise', 'critical', 100)],
        },
        5000,
      );
      const byClass = Object.fromEntries(changes.map((c) => [`${c.plan}|${c.priority}`, c]));
      // Load 1100, cut back to the top half of the band (815): batch sheds its 200 at its floor of 0
      // (one bounded step this tick), standard the other 85.
      expect(byClass['free|batch']?.multiplier).toBe(0.75);
      expect(byClass['pro|standard']?.multiplier).toBe(0.894);
      expect(byClass['enterprise|critical']).toBeUndefined();
    });
  });

  describe('step response', () => {
    it.each([
      // Heavy users: at the peak each class asks for a little more than its limits let through.
      { users: 'heavy users', limitAtOne: 170, settleTicks: 10 },
      // Light users: each asks for under half its limit, so cuts do nothing until the multiplier is
      // below 0.45 (the dead zone the controller has to integrate through first).
      { users: 'light users', limitAtOne: 400, settleTicks: 15 },
    ])('settles inside target ± band within $settleTicks ticks of a step from 50% to 200%, and stays there ($users)', ({ limitAtOne, settleTicks }) => {
      const { history } = runPlant(
        controller,
        plant({ critical: constant(50), standard: step(250, 900, 20), batch: step(200, 1050, 20) }, limitAtOne),
        80,
      );
      const after = history.slice(20 + settleTicks);
      for (const h of after) expect(Math.abs(h.loadRatio - target), `tick ${h.t}`).toBeLessThanOrEqual(band + 1e-9);
      // Batch was shed to make room, standard kept the larger part of its demand.
      const last = history[history.length - 1]!;
      expect(last.multipliers['free|batch']).toBe(0);
      expect(last.admitted['pro|standard']).toBeGreaterThan(0);
    });

    it('cuts batch before it cuts standard', () => {
      const { history } = runPlant(controller, plant({ critical: constant(0), standard: step(300, 500, 5), batch: step(100, 500, 5) }), 40);
      const firstCut = (priority: Priority) =>
        history.findIndex((h) => h.changes.some((c) => c.priority === priority && c.reason === 'overload'));
      expect(firstCut('batch')).toBeGreaterThanOrEqual(5);
      expect(firstCut('standard') === -1 || firstCut('standard') > firstCut('batch')).toBe(true);
      const last = history[history.length - 1]!;
      expect(last.multipliers['pro|standard']).toBeGreaterThan(last.multipliers['pro|batch']!);
    });

    it('restores everything, slowly, when demand falls', () => {
      const { history } = runPlant(controller, plant({ critical: constant(50), standard: step(900, 300, 30), batch: step(1000, 200, 30) }), 120);
      const overloaded = history[29]!;
      expect(overloaded.multipliers['free|batch']).toBe(0);
      const ups = history.slice(30).flatMap((h) => h.changes.filter((c) => c.reason === 'recovery' || c.reason === 'borrow'));
      expect(ups.length).toBeGreaterThan(0);
      // Additive increase: no restore moves by more than stepUpMax.
      const series = history.map((h) => h.multipliers['free|batch']!);
      for (let i = 31; i < series.length; i++) expect(series[i]! - series[i - 1]!).toBeLessThanOrEqual(config.controller.stepUpMax + 1e-9);
      const last = history[history.length - 1]!;
      for (const [key, m] of Object.entries(last.multipliers)) expect(m, key).toBeGreaterThanOrEqual(1);
    });
  });

  describe('given constant overload', () => {
    it('turns each multiplier around a bounded number of times (no oscillation)', () => {
      fc.assert(
        fc.property(
          fc.record({
            critical: fc.integer({ min: 0, max: 150 }),
            standard: fc.integer({ min: 200, max: 1500 }),
            batch: fc.integer({ min: 0, max: 1500 }),
            limitAtOne: fc.integer({ min: 50, max: 1500 }),
          }),
          ({ critical, standard, batch, limitAtOne }) => {
            const { history } = runPlant(
              controller,
              plant({ critical: constant(critical), standard: constant(standard), batch: constant(batch) }, limitAtOne),
              150,
            );
            for (const key of Object.keys(history[0]!.multipliers)) {
              expect(directionChanges(history.map((h) => h.multipliers[key]!)), key).toBeLessThanOrEqual(2);
            }
            // And it comes to rest: the last 50 ticks publish nothing.
            expect(history.slice(100).flatMap((h) => h.changes)).toEqual([]);
          },
        ),
        { numRuns: 150 },
      );
    });
  });

  describe('the critical reserve', () => {
    it('never cuts critical while its demand is within the reserve, whatever else happens', () => {
      const reserve = config.controller.criticalReserve * capacity;
      const observation = fc.record({
        utilization: fc.double({ min: 0, max: 1, noNaN: true }),
        critical: fc.double({ min: 0, max: reserve, noNaN: true }),
        standard: fc.double({ min: 0, max: 3000, noNaN: true }),
        batch: fc.double({ min: 0, max: 3000, noNaN: true }),
      });
      fc.assert(
        fc.property(fc.array(observation, { minLength: 1, maxLength: 30 }), (observations) => {
          let state = controller.initialState(0);
          observations.forEach((o, i) => {
            const nowMs = (i + 1) * tickMs;
            const before = multipliersOf(controller, state, 'sora-2')['enterprise|critical']!;
            const result = controller.tick(
              state,
              {
                samples: [sample('sora-2', o.utilization, nowMs)],
                demand: [demandRow('enterprise', 'critical', o.critical), demandRow('pro', 'standard', o.standard), demandRow('free', 'batch', o.batch)],
              },
              nowMs,
            );
            state = result.state;
            expect(multipliersOf(controller, state, 'sora-2')['enterprise|critical']).toBeGreaterThanOrEqual(before);
          });
        }),
      );
    });

    const atFloors = () =>
      controller.initialState(0, [
        { model: 'sora-2', plan: 'enterprise', priority: 'standard', multiplier: config.controller.floors.standard },
        { model: 'sora-2', plan: 'enterprise', priority: 'batch', multiplier: 0 },
      ]);

    it('cuts critical by the excess once standard and batch are at their floors', () => {
      const { changes } = controller.tick(
        atFloors(),
        {
          samples: [sample('sora-2', 1, 5000)],
          demand: [demandRow('enterprise', 'critical', 1000), demandRow('enterprise', 'standard', 40), demandRow('enterprise', 'batch', 0)],
        },
        5000,
      );
      // Load 1040 cut back to the top half of the band (815): critical gives up 225 of its 1000.
      expect(changes).toHaveLength(1);
      expect(changes[0]).toMatchObject({ priority: 'critical', reason: 'overload', multiplier: 0.775 });
    });

    it('never cuts critical below its reserve, even when the fleet stays overloaded', () => {
      const { changes } = controller.tick(
        atFloors(),
        {
          samples: [sample('sora-2', 0.87, 5000)],
          demand: [demandRow('enterprise', 'critical', 170), demandRow('enterprise', 'standard', 700)],
        },
        5000,
      );
      // Excess 70, but only the 20 credits/s of critical above its 150 reserve may go: 150/170 of 1.
      expect(changes).toHaveLength(1);
      expect(changes[0]).toMatchObject({ priority: 'critical', multiplier: 0.882 });
    });
  });

  describe('fair shares within a tier', () => {
    it('cuts the class furthest above its weighted share first and leaves a small class alone', () => {
      const state = controller.initialState(0);
      const { changes } = controller.tick(
        state,
        {
          samples: [sample('sora-2', 1, 5000)],
          demand: [
            demandRow('pro', 'standard', 700),
            demandRow('free', 'batch', 380),
            demandRow('enterprise', 'batch', 20),
          ],
        },
        5000,
      );
      // Load 1100, excess 300: batch (400) must give up 300; enterprise's 20 is below its share.
      expect(changes.map((c) => c.plan + '|' + c.priority)).toEqual(['free|batch']);
    });
  });

  describe('raising', () => {
    const held = (multipliers: Record<string, number>) =>
      controller.initialState(
        0,
        Object.entries(multipliers).map(([key, multiplier]) => {
          const [plan = '', priority = 'standard'] = key.split('|') as [string, Priority];
          return { model: 'sora-2', plan, priority, multiplier };
        }),
      );
    const quietTicks = (state: ReturnType<typeof controller.initialState>, demand: ClassDemand[], utilization: number, count: number) => {
      const results = [];
      for (let t = 1; t <= count; t++) {
        const result = controller.tick(state, { samples: [sample('sora-2', utilization, t * tickMs)], demand }, t * tickMs);
        results.push(result);
        state = result.state;
      }
      return results;
    };

    it('waits until the fleet has been below the band for restoreAfterTicks ticks', () => {
      // 0.6: below the band but not idle, so nothing borrows and only the held class can move.
      const results = quietTicks(held({ 'pro|standard': 0.5 }), [demandRow('pro', 'standard', 100, 120)], 0.6, config.controller.restoreAfterTicks);
      for (const r of results.slice(0, -1)) expect(r.changes).toEqual([]);
      expect(results[results.length - 1]!.changes).toMatchObject([{ plan: 'pro', priority: 'standard', multiplier: 0.55, reason: 'recovery' }]);
    });

    it('pays for a raise at the price of its first tick, burst included', () => {
      const results = quietTicks(held({ 'pro|standard': 0.5 }), [demandRow('pro', 'standard', 700, 1100)], 0.7, config.controller.restoreAfterTicks);
      // Headroom 785 − 700 = 85 credits/s. A whole step would let in min(400 refused, 1400 per unit ×
      // 0.05 × (1 + 60 s / 5 s)) = 400 in its first tick, so only 85/400 of the step is taken.
      expect(results[results.length - 1]!.changes).toMatchObject([{ plan: 'pro', priority: 'standard', multiplier: 0.511 }]);
    });

    it('brings batch back only once standard is no longer refused demand because of its own cut', () => {
      const state = held({ 'pro|standard': 0.7, 'free|batch': 0 });
      const whileStandardHeld = quietTicks(state, [demandRow('pro', 'standard', 300, 400), demandRow('free', 'batch', 0, 100)], 0.6, 2);
      expect(whileStandardHeld.flatMap((r) => r.changes).map((c) => c.priority)).toEqual(['standard']);

      const once = quietTicks(state, [demandRow('pro', 'standard', 300, 300), demandRow('free', 'batch', 0, 100)], 0.6, 2);
      // Out of shedding by one whole step.
      expect(once.flatMap((r) => r.changes).filter((c) => c.priority === 'batch')).toMatchObject([{ plan: 'free', multiplier: config.controller.stepUpMax }]);
    });

    it('leaves a shed class shed when the headroom does not cover a whole step', () => {
      const results = quietTicks(held({ 'free|batch': 0 }), [demandRow('free', 'batch', 0, 3000)], 0.7, 2);
      // Headroom 85 credits/s; one step out of shedding is worth min(3000, 3000 × 0.05 × 13) = 1950.
      expect(results.flatMap((r) => r.changes)).toEqual([]);
    });
  });

  describe('noise', () => {
    it('sizes a cut on the smoothed load, so a one-tick spike after quiet ticks moves less than a sustained one', () => {
      const demand = [demandRow('pro', 'standard', 500), demandRow('free', 'batch', 300)];
      let state = controller.initialState(0);
      for (let t = 1; t <= 5; t++) state = controller.tick(state, { samples: [sample('sora-2', 0.8, t * tickMs)], demand }, t * tickMs).state;
      const spike = [demandRow('pro', 'standard', 500), demandRow('free', 'batch', 400)];
      const afterQuiet = controller.tick(state, { samples: [sample('sora-2', 0.9, 6 * tickMs)], demand: spike }, 6 * tickMs);
      const cold = controller.tick(controller.initialState(0), { samples: [sample('sora-2', 0.9, tickMs)], demand: spike }, tickMs);
      const batchOf = (changes: readonly { plan: string; priority: string; multiplier: number }[]) =>
        changes.find((c) => c.plan === 'free' && c.priority === 'batch')?.multiplier ?? 1;
      expect(batchOf(afterQuiet.changes)).toBeGreaterThan(batchOf(cold.changes));
      expect(batchOf(afterQuiet.changes)).toBeLessThan(1);
    });
  });

  describe('borrowing', () => {
    it('raises multipliers above 1 only while idle, up to the cap, one additive step per tick', () => {
      const { history } = runPlant(controller, plant({ critical: constant(20), standard: constant(150), batch: constant(100) }), 40);
      const series = history.map((h) => h.multipliers['pro|standard']!);
      expect(Math.max(...series)).toBe(config.controller.borrowCap);
      for (let i = 1; i < series.length; i++) expect(series[i]! - series[i - 1]!).toBeLessThanOrEqual(config.controller.stepUpMax + 1e-9);
      expect(history.flatMap((h) => h.changes).every((c) => c.reason === 'borrow')).toBe(true);
    });

    it('does not borrow between the idle threshold and the band', () => {
      const { history } = runPlant(controller, plant({ critical: constant(0), standard: constant(350), batch: constant(300) }, 2000), 30);
      for (const h of history) for (const m of Object.values(h.multipliers)) expect(m).toBeLessThanOrEqual(1);
    });
  });

  describe('load that admission does not explain', () => {
    it('steps batch down and leaves critical alone', () => {
      const { changes } = controller.tick(controller.initialState(0), { samples: [sample('sora-2', 0.97, 5000)], demand: [] }, 5000);
      expect(changes.length).toBeGreaterThan(0);
      expect(new Set(changes.map((c) => c.priority))).toEqual(new Set(['batch']));
      for (const c of changes) expect(c.inputs['unexplainedCreditsPerSecond']).toBeCloseTo(970);
    });
  });

  describe('stale samples', () => {
    const s = config.staleSamples;

    it('holds the last multipliers, then steps down to the safe defaults and stays there', () => {
      const silentFrom = 20;
      const { history } = runPlant(
        controller,
        plant({ critical: constant(20), standard: constant(150), batch: constant(100) }),
        120,
        { silentFrom },
      );
      const holdTicks = (s.staleAfterMs + s.holdMs) / tickMs;
      const before = history[silentFrom]!.multipliers;
      // While the data is fresh or held, nothing moves.
      for (const h of history.slice(silentFrom + 1, silentFrom + holdTicks)) expect(h.changes).toEqual([]);
      const staleChanges = history.slice(silentFrom).flatMap((h) => h.changes);
      expect(staleChanges.length).toBeGreaterThan(0);
      for (const c of staleChanges) {
        expect(c.reason).toBe('stale_samples');
        expect(c.multiplier).toBeLessThan(before[`${c.plan}|${c.priority}`]!);
      }
      const last = history[history.length - 1]!.multipliers;
      for (const [key, m] of Object.entries(last)) expect(m).toBe(s.safeDefaults[key.split('|')[1] as Priority]);
    });

    it('never raises a multiplier that is already below its safe default', () => {
      const state0 = controller.initialState(0, [{ model: 'sora-2', plan: 'free', priority: 'batch', multiplier: 0 }]);
      let state = state0;
      for (let t = 1; t <= 100; t++) state = controller.tick(state, { samples: [], demand: [] }, t * tickMs).state;
      expect(multipliersOf(controller, state, 'sora-2')['free|batch']).toBe(0);
    });

    it('treats a fleet that never reported like a silent one, and ignores samples that arrive already stale', () => {
      const twoModels = createLoadController(defaultFeedbackConfig);
      let state = twoModels.initialState(0);
      const late = sample('sora-2', 0.1, 0);
      for (let t = 1; t <= 40; t++) state = twoModels.tick(state, { samples: [late], demand: [] }, t * tickMs).state;
      expect(multipliersOf(twoModels, state, 'sora-2')['pro|standard']).toBe(s.safeDefaults.standard);
      expect(multipliersOf(twoModels, state, 'codex-1')['pro|batch']).toBe(s.safeDefaults.batch);
    });

    it('in any sequence of silence, never raises a multiplier (property)', () => {
      fc.assert(
        fc.property(
          fc.array(fc.double({ min: 0, max: 1.5, noNaN: true }), { minLength: 11, maxLength: 11 }),
          fc.array(fc.integer({ min: 1, max: 60_000 }), { minLength: 1, maxLength: 40 }),
          (initial, gaps) => {
            const keys = controller.multipliers(controller.initialState(0)).filter((m) => m.model === 'sora-2');
            let state = controller.initialState(0, keys.map((k, i) => ({ ...k, multiplier: initial[i] ?? 1 })));
            let nowMs = 0;
            for (const gap of gaps) {
              nowMs += gap;
              const before = controller.multipliers(state);
              const result = controller.tick(state, { samples: [], demand: [] }, nowMs);
              controller.multipliers(result.state).forEach((m, i) => expect(m.multiplier).toBeLessThanOrEqual(before[i]!.multiplier));
              state = result.state;
            }
          },
        ),
      );
    });
  });

  describe('publishing', () => {
    it('publishes only changes, each within one bounded step of the last value', () => {
      const { history } = runPlant(
        controller,
        plant({ critical: step(20, 140, 10), standard: step(300, 1200, 10), batch: step(100, 900, 10) }, 300),
        100,
      );
      for (let i = 1; i < history.length; i++) {
        const previous = history[i - 1]!;
        for (const c of previous.changes) {
          const before = previous.multipliers[`${c.plan}|${c.priority}`]!;
          expect(c.multiplier).not.toBe(before);
          expect(c.multiplier - before).toBeLessThanOrEqual(config.controller.stepUpMax + 1e-9);
          expect(before - c.multiplier).toBeLessThanOrEqual(config.controller.stepDownMax + 1e-9);
          expect(history[i]!.multipliers[`${c.plan}|${c.priority}`]).toBe(c.multiplier);
        }
      }
    });

    it('keeps every multiplier between the floors and the borrowing cap for any inputs (property)', () => {
      const row = fc.record({
        utilization: fc.double({ min: 0, max: 1, noNaN: true }),
        capacity: fc.double({ min: 0, max: 5000, noNaN: true }),
        admitted: fc.array(fc.double({ min: 0, max: 2000, noNaN: true }), { minLength: 11, maxLength: 11 }),
        unmet: fc.array(fc.double({ min: 0, max: 2000, noNaN: true }), { minLength: 11, maxLength: 11 }),
      });
      fc.assert(
        fc.property(fc.array(row, { minLength: 1, maxLength: 25 }), (rows) => {
          let state = controller.initialState(0);
          const classes = controller.multipliers(state).filter((m) => m.model === 'sora-2');
          rows.forEach((r, i) => {
            const nowMs = (i + 1) * tickMs;
            const demand = classes.map((k, j) => ({
              ...k,
              admittedCreditsPerSecond: r.admitted[j]!,
              requestedCreditsPerSecond: r.admitted[j]! + r.unmet[j]!,
            }));
            state = controller.tick(state, { samples: [sample('sora-2', r.utilization, nowMs, r.capacity)], demand }, nowMs).state;
            for (const m of controller.multipliers(state)) {
              expect(m.multiplier).toBeGreaterThanOrEqual(0);
              expect(m.multiplier).toBeLessThanOrEqual(config.controller.borrowCap);
            }
          });
        }),
      );
    });
  });

  describe('inputs', () => {
    it('ignores samples for unknown models and samples older than the one it has', () => {
      const state = controller.tick(controller.initialState(0), { samples: [sample('sora-2', 0.8, 5000)], demand: [] }, 5000).state;
      const { changes } = controller.tick(
        state,
        { samples: [sample('sora-2', 1, 4000), sample('veo-9', 1, 10_000)], demand: [] },
        10_000,
      );
      expect(changes).toEqual([]);
      expect(state.models.map((m) => m.model)).toEqual(config.models);
    });

    it('starts from restored multipliers, clamped to the borrowing cap', () => {
      const twoModels = createLoadController(defaultFeedbackConfig);
      const state = twoModels.initialState(0, [
        { model: 'codex-1', plan: 'pro', priority: 'batch', multiplier: 0.35 },
        { model: 'codex-1', plan: 'pro', priority: 'standard', multiplier: 9 },
      ]);
      const m = multipliersOf(twoModels, state, 'codex-1');
      expect(m['pro|batch']).toBe(0.35);
      expect(m['pro|standard']).toBe(config.controller.borrowCap);
      expect(m['free|batch']).toBe(1);
    });

    it('only controls the classes the plans allow: critical is enterprise only', () => {
      const custom: FeedbackConfig = { ...config, models: ['m'] };
      const keys = createLoadController(custom).multipliers(createLoadController(custom).initialState(0)).map((m) => `${m.plan}|${m.priority}`);
      expect(keys.filter((k) => k.endsWith('|critical'))).toEqual(['enterprise|critical']);
      expect(keys).toHaveLength(11);
    });
  });
});
