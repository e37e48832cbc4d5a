/**
 * Measures the demo: how long after its start `npm start`'s traffic shows each of the six outcomes. Runs the
 * system as npm start does (the four services, the demo fleet, the traffic simulator) but on free ports and
 * topics of its own (libs/testing startSystem), so it never disturbs a running `npm start`. One line per run:
 *
 *   npx tsx tools/start/measure-outcomes.ts [runs=1] [seconds=150]
 *
 * Times are from the traffic simulator's start (services ready); the services' readiness time is printed too.
 */
import { requireStack } from '@access/testing';
import { startSystem } from './system';
import { DEMO_FLEET_MODELS } from './demo';
import { OUTCOME_NAMES, parseTrafficLine, type TrafficLine } from './summary';

const SIX = OUTCOME_NAMES.filter((o) => o !== 'error');

async function measure(seconds: number): Promise<{ readyMs: number; firstS: Record<string, number | null>; counts: Record<string, number> }> {
  const t0 = Date.now();
  const stack = await requireStack();
  let last: TrafficLine | undefined;
  const system = await startSystem(stack, { fleetModels: DEMO_FLEET_MODELS });
  const readyMs = Date.now() - t0;
  try {
    const traffic = system.startTraffic(seconds, (line) => {
      const parsed = parseTrafficLine(line);
      if (parsed !== undefined) last = parsed;
    });
    const deadline = Date.now() + (seconds + 20) * 1000;
    while (Date.now() < deadline && traffic.process.exitCode === null) {
      if (last !== undefined && SIX.every((o) => (last!.stats.counts[o] ?? 0) > 0)) break;
      await new Promise((r) => setTimeout(r, 1_000));
    }
  } finally {
    await system.stop();
  }
  const firstS: Record<string, number | null> = {};
  for (const o of SIX) {
    const at = last?.stats.firstAtMs[o];
    firstS[o] = at === undefined ? null : Math.round(at / 100) / 10;
  }
  return { readyMs, firstS, counts: last?.stats.counts ?? {} };
}

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 1);
  const seconds = Number(process.argv[3] ?? 150);
  for (let i = 1; i <= runs; i++) {
    const r = await measure(seconds);
    const all = SIX.every((o) => r.firstS[o] !== null);
    const slowest = all ? Math.max(...SIX.map((o) => r.firstS[o]!)) : null;
    console.log(JSON.stringify({ run: i, servicesReadyS: Math.round(r.readyMs / 100) / 10, allSix: all, lastOfSixS: slowest, firstS: r.firstS, counts: r.counts }));
  }
  process.exit(0);
}

void main();
