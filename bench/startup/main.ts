/**
 * bench/startup: how long each service takes from spawn to its first 200 on /health/live, started from the build
 * (`node dist/apps/<name>/main.js`, also with V8's compile cache and with `--enable-source-maps`) and from source (`node --import tsx
 * apps/<name>/src/main.ts`, how the tests start them; `npm run start:<name>` adds the tsx CLI's own process on top),
 * and on to /health/ready.
 * Each service gets its own topics, groups, schema and database on the running stack (tools/deploy/src/isolated.ts);
 * the four ways alternate, start by start, so that the machine's noise falls on all of them. Also the wall time of `npm run build`.
 * Medians of RUNS runs (default 5). Run: npm run bench -- startup.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { requireStack } from '@access/testing';
import { isolatedSystem, startAndProbe, type Started } from '../../tools/deploy/src/isolated';
import { buildTargets, services, type ServiceName } from '../../tools/deploy/src/targets';
import { machine, median, writeSection } from '../report';

const runs = Number(process.env.RUNS ?? 5);
const root = join(__dirname, '..', '..');
const ports: Record<ServiceName, number> = { admission: 27_100, 'credit-ledger': 27_200, 'usage-ingest': 27_300, 'load-feedback': 27_400 };

const outfile = (name: ServiceName) => buildTargets.find((t) => t.name === name)!.outfile;
const commands = (name: ServiceName) => ({
  build: ['node', outfile(name)],
  // The same build with V8's compile cache (NODE_COMPILE_CACHE, Node ≥ 22.1), warmed by one start before the runs.
  cached: ['node', outfile(name)],
  maps: ['node', '--enable-source-maps', outfile(name)],
  source: ['node', '--import', 'tsx', `apps/${name}/src/main.ts`],
});
type Mode = keyof ReturnType<typeof commands>;
const modes: Mode[] = ['build', 'cached', 'maps', 'source'];
const compileCacheDir = join(root, '.local', 'compile-cache');
const envFor = (mode: Mode, env: Record<string, string>): Record<string, string> => (mode === 'cached' ? { ...env, NODE_COMPILE_CACHE: compileCacheDir } : env);

let current: Started | undefined;

/**
 * CPU time (user + system) a process has used so far, in ms, from /proc (clock ticks of 10 ms). On a machine shared
 * with other sessions the wall time to live stretches with the run queue; the CPU time it took stretches much less.
 */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Starts one process, waits for live then ready, stops it cleanly; times in ms. */
async function once(argv: string[], env: Record<string, string>, port: number): Promise<{ live: number; cpu: number; ready: number }> {
  const t0 = performance.now();
  const started = (current = startAndProbe(argv, { cwd: root, env, port, timeoutMs: 60_000 }));
  try {
    const live = await started.live;
    const cpu = cpuMs(started.process.pid!);
    for (;;) {
      const r = await fetch(`http://127.0.0.1:${port}/health/ready`).catch(() => undefined);
      if (r?.status === 200) return { live, cpu, ready: performance.now() - t0 };
      if (performance.now() - t0 > 60_000) throw new Error(`${argv.join(' ')} not ready in 60 s:\n${started.output()}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  } finally {
    await started.stop();
  }
}

async function main(): Promise<void> {
  const buildMs: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    const result = spawnSync('npm', ['run', 'build'], { cwd: root, encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`npm run build failed:\n${result.stdout}${result.stderr}`);
    buildMs.push(performance.now() - t0);
  }
  console.log(`npm run build: ${buildMs.map((ms) => Math.round(ms)).join(', ')} ms`);

  const stack = await requireStack();
  const system = await isolatedSystem(stack);
  // Interrupted: stop the service in hand and delete the run's topics, schema and database before leaving.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      void (async () => {
        await current?.stop();
        await system.close();
        process.exit(130);
      })();
    });
  }
  const samples = new Map<string, { live: number[]; cpu: number[]; ready: number[] }>();
  try {
    const env = system.env(ports);
    for (const { name } of services) await once(commands(name).cached, envFor('cached', env), ports[name]);
    for (let run = 0; run < runs; run++) {
      for (const { name } of services) {
        for (const mode of modes) {
          const t = await once(commands(name)[mode], envFor(mode, env), ports[name]);
          const key = `${name}/${mode}`;
          const s = samples.get(key) ?? { live: [], cpu: [], ready: [] };
          s.live.push(t.live);
          s.cpu.push(t.cpu);
          s.ready.push(t.ready);
          samples.set(key, s);
          console.log(`run ${run + 1}/${runs} ${key.padEnd(22)} live ${Math.round(t.live)} ms (cpu ${t.cpu} ms), ready ${Math.round(t.ready)} ms`);
        }
      }
    }
  } finally {
    await system.close();
  }

  const ms = (values: number[]) => `${Math.round(median(values))} ms`;
  const range = (values: number[]) => `${Math.round(Math.min(...values))}–${Math.round(Math.max(...values))}`;
  const rows = services.map(({ name }) => {
    const b = samples.get(`${name}/build`)!;
    const c = samples.get(`${name}/cached`)!;
    const m = samples.get(`${name}/maps`)!;
    const s = samples.get(`${name}/source`)!;
    return `| ${name} | **${ms(b.live)}** (${range(b.live)}) | **${ms(c.live)}** (${range(c.live)}) | ${ms(m.live)} | ${ms(s.live)} (${range(s.live)}) | ${ms(b.cpu)} / ${ms(c.cpu)} / ${ms(m.cpu)} / ${ms(s.cpu)} | ${ms(b.ready)} | ${ms(c.ready)} | ${ms(s.ready)} |`;
  });
  const markdown = `
## Start-up from the build (bench/startup)

\`npm run bench -- startup\`, ${new Date().toISOString().slice(0, 10)}, ${machine()}, against the running local stack, load
average ${loadavg()[0]!.toFixed(1)} at the end (other sessions share the machine). From spawn to the first 200 on
\`/health/live\` (goal < 1 s from the build), and on to \`/health/ready\`; median of ${runs} starts each (min–max), the four
ways alternating start by start, each stopped with SIGTERM. Build: \`node dist/apps/<name>/main.js\`; cached: the same
with V8's compile cache (\`NODE_COMPILE_CACHE\`, warmed by one start before the runs); maps: the build with
\`--enable-source-maps\`; source: \`node --import tsx
apps/<name>/src/main.ts\`. Live comes after each service's own connections (Postgres, Kafka; the ledger's migrations and
topics), so the figure is start-up work plus those round trips. The CPU column (user + system time of the process when
live first answered, from /proc) varies far less with the machine's load than the wall times do.

| service | live, build | live, build + compile cache | live, build + maps | live, source (tsx) | CPU used until live: build / cached / maps / source | ready, build | ready, cached | ready, source |
| --- | --- | --- | --- | --- | --- | --- | --- | --- |
${rows.join('\n')}

\`npm run build\` (all ${buildTargets.length} bundles, esbuild, wall time including npm and tsx): median ${ms(buildMs)} of 3.
`;
  console.log(markdown);
  writeSection('startup', markdown);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
