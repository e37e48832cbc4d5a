/**
 * Runs the closed-loop simulation of closed-loop.spec.ts (same scenario, same seed) and draws it to
 * docs/images/closed-loop.svg:
 *
 *   npx tsx libs/load-feedback/simulation/scripts/closed-loop-chart.ts [output.svg]
 *
 * Reads config/ (feedback.yaml, plans.yaml, price-book.yaml) from the repository root, so the chart
 * shows the controller as shipped. Prints a short summary of the run.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parsePlans, parsePriceBook } from '@access/catalog';
import { parseFeedbackConfig } from '@access/load-feedback-domain';
import { runClosedLoop, stepScenario } from '../src/closed-loop';
import { renderClosedLoopChart, type ChartPoint } from './svg-chart';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
const output = resolve(process.argv[2] ?? join(root, 'docs/images/closed-loop.svg'));
const read = (name: string) => readFileSync(join(root, 'config', name), 'utf8');

const feedback = parseFeedbackConfig(read('feedback.yaml'));
const plans = parsePlans(read('plans.yaml'));
const priceBook = parsePriceBook(read('price-book.yaml'));
for (const [file, result] of [['feedback.yaml', feedback], ['plans.yaml', plans], ['price-book.yaml', priceBook]] as const) {
  if (!result.ok) {
    console.error(`config/${file} is invalid:\n${result.errors.map((e) => `  ${e.path}: ${e.message}`).join('\n')}`);
    process.exit(1);
  }
}
if (!feedback.ok || !plans.ok || !priceBook.ok) process.exit(1);

const seed = 7;
const run = runClosedLoop({ feedback: feedback.value, plans: plans.value, priceBook: priceBook.value, ...stepScenario, seed });
const controller = feedback.value.controller;

const points: ChartPoint[] = run.ticks.map((t) => ({
  tick: t.tick,
  demandRatio: t.requestedRatio,
  utilization: t.utilization,
  critical: t.byPriority.critical.meanMultiplier,
  standard: t.byPriority.standard.meanMultiplier,
  batch: t.byPriority.batch.meanMultiplier,
}));

const svg = renderClosedLoopChart(points, {
  title: 'Load feedback, closed loop: demand steps from 50% to 200% of capacity and back',
  subtitle:
    `${run.model}, ${run.capacityCreditsPerSecond} credits/s, tick ${feedback.value.tickIntervalMs / 1000} s, ` +
    `target ${controller.targetUtilization} ± band ${controller.hysteresisBand}, critical reserve ${controller.criticalReserve}; ` +
    `admission's real decision function, seed ${seed}`,
  target: controller.targetUtilization,
  band: 0.05,
  markers: [
    { tick: stepScenario.stepUpAtTick, label: 'demand 200%' },
    { tick: stepScenario.stepDownAtTick, label: 'demand 50%' },
  ],
});
mkdirSync(dirname(output), { recursive: true });
writeFileSync(output, svg);

const overload = run.ticks.slice(stepScenario.stepUpAtTick + 10, stepScenario.stepDownAtTick);
const utilizations = overload.map((t) => t.utilization);
const ratio = (p: 'critical' | 'standard' | 'batch') => {
  const requests = run.ticks.reduce((s, t) => s + t.byPriority[p].requests, 0);
  return run.ticks.reduce((s, t) => s + t.byPriority[p].admitted, 0) / Math.max(1, requests);
};
console.log(`wrote ${output}`);
console.log(
  `utilization from 10 ticks after the step: ${Math.min(...utilizations).toFixed(3)}..${Math.max(...utilizations).toFixed(3)}; ` +
    `admitted over the run: critical ${(ratio('critical') * 100).toFixed(2)}%, standard ${(ratio('standard') * 100).toFixed(1)}%, batch ${(ratio('batch') * 100).toFixed(1)}%`,
);
