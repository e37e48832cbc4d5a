/**
 * bench/feedback: controller ticks per second, in process, one core. The shipped feedback.yaml
 * (2 models, 11 classes each), 4 regions per model sampled every tick, demand for every class, and a
 * utilization that wanders around the band so that overload, recovery and hold ticks all occur.
 * (a) the pure controller's tick; (b) the service's tick (FeedbackLoop: demand window read + controller,
 * with 1000 decisions recorded per tick). Medians of RUNS runs. Run: npm run bench -- feedback.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EVENTS, goldenEvent } from '@access/contracts';
import { FeedbackLoop } from '@access/load-feedback-application';
import { createLoadController, parseFeedbackConfig, type ClassDemand, type LoadSample } from '@access/load-feedback-domain';
import { machine, median, writeSection } from '../report';

const runs = Number(process.env.RUNS ?? 3);
const ticks = Number(process.env.TICKS ?? 20_000);
const root = join(__dirname, '..', '..');
const parsed = parseFeedbackConfig(readFileSync(join(root, 'config', 'feedback.yaml'), 'utf8'));
if (!parsed.ok) throw new Error(parsed.errors.map((e) => `${e.path}: ${e.message}`).join('\n'));
const config = parsed.value;
const tickMs = config.tickIntervalMs;
const classes = Object.entries(config.plans).flatMap(([plan, p]) => p.priorities.map((priority) => ({ plan, priority })));

let seed = 1;
const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);

function inputs(t: number): { samples: LoadSample[]; demand: ClassDemand[] } {
  const utilization = Math.min(1, Math.max(0, 0.8 + 0.25 * Math.sin(t / 15) + 0.05 * (random() - 0.5)));
  const samples = config.models.flatMap((model) =>
    [0, 1, 2, 3].map((r) => ({ model, region: `r${r}`, utilization, queueDepth: 0, p95LatencyMs: 500, capacityCreditsPerSecond: 2_000, sampledAtMs: t * tickMs })),
  );
  const demand = config.models.flatMap((model) =>
    classes.map((c) => ({ model, ...c, admittedCreditsPerSecond: (utilization * 8_000) / classes.length, requestedCreditsPerSecond: (1.3 * 8_000) / classes.length })),
  );
  return { samples, demand };
}

function controllerRun(): number {
  const controller = createLoadController(config);
  let state = controller.initialState(0);
  const prepared = Array.from({ length: 200 }, (_, i) => inputs(i));
  const t0 = performance.now();
  for (let t = 1; t <= ticks; t++) state = controller.tick(state, prepared[t % prepared.length]!, t * tickMs).state;
  return ticks / ((performance.now() - t0) / 1000);
}

async function loopRun(): Promise<number> {
  const loop = new FeedbackLoop({ config, restored: [], nowMs: 0 });
  const golden = goldenEvent(EVENTS.admissionDecided).data;
  const loopTicks = Math.max(1, Math.floor(ticks / 10));
  let id = 0;
  const t0 = performance.now();
  for (let t = 1; t <= loopTicks; t++) {
    const now = t * tickMs;
    const { samples } = inputs(t);
    for (const { sampledAtMs, ...s } of samples) loop.onSample(s, sampledAtMs);
    for (let i = 0; i < 1_000; i++) {
      const c = classes[i % classes.length]!;
      loop.onDecision(`e${id++}`, { ...golden, model: 'codex-1', plan: c.plan, priority: c.priority, decidedAt: new Date(now - (i % tickMs)).toISOString() }, now);
    }
    await loop.tick(now, async () => undefined);
  }
  return loopTicks / ((performance.now() - t0) / 1000);
}

async function main(): Promise<void> {
  const controllerRates: number[] = [];
  const loopRates: number[] = [];
  for (let r = 0; r < runs; r++) {
    controllerRates.push(controllerRun());
    loopRates.push(await loopRun());
    console.log(`run ${r + 1}/${runs}: controller ${controllerRates.at(-1)!.toFixed(0)} ticks/s, service tick ${loopRates.at(-1)!.toFixed(0)} ticks/s`);
  }
  const markdown = `## Load feedback (bench/feedback)

${machine()}; medians of ${runs} runs; shipped feedback.yaml (${config.models.length} models × ${classes.length} classes), 4 regions per model.

| what | ticks/s (one core) | time per tick |
| --- | ---: | ---: |
| controller \`tick\` (pure) | ${median(controllerRates).toFixed(0)} | ${(1e6 / median(controllerRates)).toFixed(0)} µs |
| service tick (1000 decisions recorded, demand window read, controller) | ${median(loopRates).toFixed(0)} | ${(1e6 / median(loopRates)).toFixed(0)} µs |

The service ticks every ${tickMs} ms: the controller's work per tick is negligible next to the clock.`;
  console.log(markdown);
  writeSection('feedback', markdown);
}

void main();
