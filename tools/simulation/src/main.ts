/**
 * npm run simulate -- [--seed N] [--events N] [--trace] [--ci] [--seeds K] [--minutes M] [--defect NAME] [--sabotage NAME]
 *
 *   --seed N       one run of seed N (replays a failure exactly); --trace prints every step
 *   --ci           CI: --seeds fresh seeds (default 20) of --events steps each (default 50,000), ≥ 1,000,000 events;
 *                  --workers N splits the seeds over N processes (one per core)
 *   --minutes M    soak: fresh seeds one after the other for M minutes
 *   --defect NAME  re-introduce a historical defect: ingest-shutdown (28ba46f) or late-copy (b0775a0)
 *   --sabotage X   break the simulated infrastructure on purpose (see options.ts)
 *   --usage-rows-per event   check one request_usage row per completion event id instead of per admission
 *
 * Exit 1 when an invariant broke; the failing seed and step are printed with the command that replays it.
 */
import { spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { simOptions, type Defects, type Sabotage, type SimOptions } from './options';
import { simulate, type SimResult } from './simulation';

const { values } = parseArgs({
  options: {
    seed: { type: 'string' },
    events: { type: 'string' },
    trace: { type: 'boolean', default: false },
    ci: { type: 'boolean', default: false },
    seeds: { type: 'string' },
    minutes: { type: 'string' },
    defect: { type: 'string' },
    sabotage: { type: 'string', default: 'none' },
    'usage-rows-per': { type: 'string', default: 'admission' },
    workers: { type: 'string', default: '1' },
  },
});

const DEFECTS: Record<string, Partial<Defects>> = {
  'ingest-shutdown': { ingestDeadLettersOnShutdown: true },
  'late-copy': { lateCopyPricedNet: true },
};

function optionsFor(seed: number, events: number): SimOptions {
  const defect = values.defect === undefined ? {} : DEFECTS[values.defect];
  if (defect === undefined) throw new Error(`--defect is one of ${Object.keys(DEFECTS).join(', ')}`);
  return simOptions(seed, {
    events,
    trace: values.trace,
    sabotage: values.sabotage as Sabotage,
    usageRowsPer: values['usage-rows-per'] === 'event' ? 'event' : 'admission',
    defects: { ingestDeadLettersOnShutdown: false, lateCopyPricedNet: false, ...defect },
  });
}

function replayCommand(seed: number, events: number): string {
  const extra = [
    values.defect === undefined ? '' : ` --defect ${values.defect}`,
    values.sabotage === 'none' ? '' : ` --sabotage ${values.sabotage}`,
    values['usage-rows-per'] === 'event' ? ' --usage-rows-per event' : '',
  ].join('');
  return `npm run simulate -- --seed ${seed} --events ${events}${extra} --trace`;
}

function report(result: SimResult, events: number): boolean {
  if (result.failure === null) return true;
  const f = result.failure;
  console.error(`FAILED seed ${result.seed} at step ${f.step} (+${f.virtualMs} ms virtual): ${f.invariant}: ${f.detail}`);
  console.error(`replay: ${replayCommand(result.seed, events)}`);
  return false;
}

/** --ci --workers N: the seeds split over N child processes; their lines are passed through and their totals added. */
async function inWorkers(workers: number, seeds: number): Promise<number> {
  const started = performance.now();
  const args = process.argv.slice(2).filter((a, i, all) => a !== '--workers' && all[i - 1] !== '--workers' && a !== '--seeds' && all[i - 1] !== '--seeds');
  let total = 0;
  const codes = await Promise.all(
    Array.from({ length: workers }, (_, w) => {
      const share = Math.floor(seeds / workers) + (w < seeds % workers ? 1 : 0);
      const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...args, '--seeds', String(share)], { stdio: ['ignore', 'pipe', 'inherit'] });
      createInterface({ input: child.stdout }).on('line', (line) => {
        const done = /^\d+ seeds, (\d+) simulated events/.exec(line);
        if (done !== null) total += Number(done[1]);
        console.log(`[${w}] ${line}`);
      });
      return new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? 2)));
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const failed = codes.some((c) => c !== 0);
  console.log(`${seeds} seeds in ${workers} processes: ${total} simulated events in ${seconds.toFixed(1)} s (${Math.round(total / seconds)} events/s)${failed ? ', FAILED' : ', every invariant held'}`);
  return failed ? 1 : 0;
}

async function main(): Promise<number> {
  const events = values.events === undefined ? 50_000 : Number(values.events);
  if (values.seed !== undefined) {
    const started = performance.now();
    const result = await simulate(optionsFor(Number(values.seed), events));
    const seconds = (performance.now() - started) / 1000;
    if (result.trace !== null) for (const line of result.trace) console.log(line);
    console.log(`seed ${result.seed}: ${result.steps} events, ${(result.virtualMs / 1000).toFixed(1)} s virtual, ${Math.round(result.steps / seconds)} events/s, trace hash ${result.hash.toString(16)}`);
    console.log([...result.counts].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${v}`).join(' '));
    return report(result, events) ? 0 : 1;
  }
  const workers = Number(values.workers);
  if (values.ci && workers > 1) return inWorkers(workers, Number(values.seeds ?? 20));
  const deadlineMs = values.minutes === undefined ? null : performance.now() + Number(values.minutes) * 60_000;
  const seeds = values.ci ? Number(values.seeds ?? 20) : deadlineMs === null ? 1 : Number.POSITIVE_INFINITY;
  const started = performance.now();
  let total = 0;
  let runs = 0;
  for (let i = 0; i < seeds && (deadlineMs === null || performance.now() < deadlineMs); i++) {
    const seed = randomInt(0, 2 ** 31);
    const result = await simulate(optionsFor(seed, events));
    total += result.steps;
    runs++;
    if (!report(result, events)) return 1;
    console.log(`seed ${seed}: ${result.steps} events ok (${(result.virtualMs / 1000).toFixed(0)} s virtual)`);
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(`${runs} seeds, ${total} simulated events in ${seconds.toFixed(1)} s (${Math.round(total / seconds)} events/s), every invariant held`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(2);
  },
);
