/**
 * Each image's commands, run without Docker: for every Dockerfile, its build stage's `npm run build …` in a copy of the
 * build context (the repository minus .dockerignore), its deps stage's `npm ci --omit=dev …` for real (once: it is
 * the same command in every Dockerfile), then a runtime folder assembled from the runtime stage's COPY instructions,
 * started with the stage's ENV and CMD against the running stack (the run's own topics, groups, schema and database):
 * /health/live answers, and the stage's HEALTHCHECK command exits 0 once the service is ready and 1 once it is gone.
 * The provisioning image's CMD provisions a database of its own, and its CLI creates a token there.
 *
 * What this cannot show without an engine: the base image's Node and user (`node:24-*-slim`, USER node) and the
 * network between containers; deploy.spec.ts checks those declarations. The build stage's own `npm ci` is replaced
 * by the repository's node_modules, installed from the same lockfile (a second full install would add minutes).
 */
import { execFile, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Clickhouse, identifier, sql } from '@access/platform-clickhouse';
import { repoRoot } from '@access/platform-config';
import { withClient } from '@access/platform-postgres';
import { freePort, requireStack, testName, type Stack } from '@access/testing';
import { copyOf, envOf, healthcheckOf, parseDockerfile, runCommandOf, type Stage } from './dockerfile';
import { isolatedSystem, startAndProbe, type IsolatedSystem, type Started } from './isolated';
import { services } from './targets';

const run = promisify(execFile);

const serviceImages = services.map((s) => ({ ...s, dockerfile: `apps/${s.name}/Dockerfile` }));
const provisionDockerfile = 'infra/stack/Dockerfile';
const allDockerfiles = [...serviceImages.map((s) => s.dockerfile), provisionDockerfile];

const stagesOf = (dockerfile: string) => parseDockerfile(readFileSync(join(repoRoot, dockerfile), 'utf8'));
const stageNamed = (stages: Stage[], name: string) => stages.find((s) => s.name === name)!;
const runtimeEnv = (stage: Stage) => Object.assign({}, ...stage.instructions.filter((i) => i.keyword === 'ENV').map(envOf)) as Record<string, string>;
const cmdOf = (stage: Stage) => stage.instructions.filter((i) => i.keyword === 'CMD').at(-1)!.exec!;

/** The project's Node 24 and npm first, as in the image. */
const shellEnv = { ...process.env, PATH: `${join(repoRoot, 'node_modules', '.bin')}:${process.env.PATH}` };

async function sh(command: string, cwd: string): Promise<string> {
  try {
    const { stdout, stderr } = await run('/bin/sh', ['-c', command], { cwd, env: shellEnv, maxBuffer: 16 * 2 ** 20 });
    return stdout + stderr;
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${command} (in ${cwd}) failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

/** The build context: the repository's top-level entries that .dockerignore does not exclude. */
function copyContext(to: string): void {
  const ignored = readFileSync(join(repoRoot, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const excluded = (name: string) => ignored.some((pattern) => (pattern.startsWith('*') ? name.endsWith(pattern.slice(1)) : name === pattern));
  for (const entry of readdirSync(repoRoot)) if (!excluded(entry)) cpSync(join(repoRoot, entry), join(to, entry), { recursive: true });
}

/**
 * Replays a stage's COPY instructions into `dir` (the stage's /app): from the context or from earlier stages'
 * folders. A destination ending in `/` (or `.`) is a folder the sources go into, as in Docker; the Dockerfiles here
 * copy only files that way.
 */
function assemble(stage: Stage, dir: string, context: string, stageDirs: Record<string, string>): void {
  for (const instruction of stage.instructions.filter((i) => i.keyword === 'COPY')) {
    const { from, sources, destination } = copyOf(instruction);
    for (const source of sources) {
      const origin = from === undefined ? join(context, source) : join(stageDirs[from]!, source.replace(/^\/app\/?/, ''));
      const target = destination.endsWith('/') || destination === '.' ? join(dir, destination, basename(source)) : join(dir, destination);
      mkdirSync(dirname(target), { recursive: true });
      // node_modules is linked, not copied: 100 MB per image for nothing a copy would show.
      if (basename(source) === 'node_modules') symlinkSync(origin, target, 'dir');
      else cpSync(origin, target, { recursive: true });
    }
  }
}

/** Runs the HEALTHCHECK command in the runtime folder with the container's environment; its exit code. */
function healthcheck(stage: Stage, cwd: string, env: Record<string, string>): Promise<number | null> {
  const { command } = healthcheckOf(stage.instructions.find((i) => i.keyword === 'HEALTHCHECK')!);
  const [executable, ...args] = command;
  return new Promise((resolve) => {
    const child = spawn(executable === 'node' ? process.execPath : executable!, args, { cwd, env: { ...process.env, ...env } });
    child.once('exit', (code) => resolve(code));
  });
}

describe('the images, replayed without Docker', () => {
  let stack: Stack;
  let system: IsolatedSystem;
  let work: string;
  const buildDirs = new Map<string, string>();
  let depsDir: string;

  beforeAll(async () => {
    stack = await requireStack();
    system = await isolatedSystem(stack);
    work = mkdtempSync(join(tmpdir(), 'access-images-'));
    const context = join(work, 'context');
    mkdirSync(context);
    copyContext(context);

    // deps: the same command in every Dockerfile (deploy.spec.ts), so run once.
    const deps = new Set(allDockerfiles.map((d) => stageNamed(stagesOf(d), 'deps').instructions.filter((i) => i.keyword === 'RUN').map(runCommandOf).join(' && ')));
    expect(deps.size).toBe(1);
    depsDir = join(work, 'deps');
    mkdirSync(depsDir);
    assemble(stageNamed(stagesOf(allDockerfiles[0]!), 'deps'), depsDir, context, {});
    const installing = sh([...deps][0]!, depsDir);

    // build: one folder per Dockerfile (a stage's /app), the context copied in, the build's RUN commands run in it.
    for (const dockerfile of allDockerfiles) {
      const dir = join(work, `build-${dockerfile.replaceAll('/', '-')}`);
      mkdirSync(dir);
      cpSync(context, dir, { recursive: true });
      symlinkSync(join(repoRoot, 'node_modules'), join(dir, 'node_modules'), 'dir');
      for (const command of stageNamed(stagesOf(dockerfile), 'build').instructions.filter((i) => i.keyword === 'RUN').map(runCommandOf)) {
        if (/^npm ci\b/.test(command)) continue;
        await sh(command, dir);
      }
      buildDirs.set(dockerfile, dir);
    }
    await installing;
    // A production install holds no development tool: the runtime could not lean on one by accident.
    for (const devOnly of ['vitest', 'tsx', 'esbuild', 'typescript']) expect(existsSync(join(depsDir, 'node_modules', devOnly))).toBe(false);
  }, 600_000);

  afterAll(async () => {
    await system?.close();
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  /** The runtime stage of `dockerfile` as a folder: COPY from the context, the deps folder and its build folder. */
  function runtimeFolder(dockerfile: string): { dir: string; stage: Stage } {
    const stage = stagesOf(dockerfile).at(-1)!;
    const dir = join(work, `runtime-${dockerfile.replaceAll('/', '-')}`);
    if (!existsSync(dir)) {
      mkdirSync(dir);
      assemble(stage, dir, join(work, 'context'), { deps: depsDir, build: buildDirs.get(dockerfile)! });
    }
    return { dir, stage };
  }

  it.each(serviceImages)('$name: the runtime stage starts live, and its HEALTHCHECK passes once ready and fails once stopped', async ({ name, dockerfile, portVariable }) => {
    const { dir, stage } = runtimeFolder(dockerfile);
    // What the runtime image holds: no sources, tests or tooling.
    expect(readdirSync(dir).sort()).toEqual(['config', 'dist', 'node_modules', 'package.json']);
    expect(readdirSync(join(dir, 'dist', 'apps', name)).sort()).toEqual(['main.js', 'main.js.map']);
    const port = await freePort();
    const env = { ...system.env({}), ...runtimeEnv(stage), [portVariable]: String(port) };
    const started: Started = startAndProbe(cmdOf(stage), { cwd: dir, env, port, timeoutMs: 60_000 });
    try {
      await started.live;
      // A request with no token: the guard and the problem filter, bundled, answer as from source.
      const path = name === 'admission' ? '/v1/admissions' : name === 'credit-ledger' ? '/v1/accounts/a-1/balance' : '/health/live';
      const answer = await fetch(`http://127.0.0.1:${port}${path}`, { method: name === 'admission' ? 'POST' : 'GET' });
      if (name === 'admission' || name === 'credit-ledger') {
        expect(answer.status).toBe(401);
        expect(answer.headers.get('content-type')).toContain('application/problem+json');
      } else expect(answer.status).toBe(200);

      const deadline = Date.now() + 60_000;
      let code: number | null = 1;
      while (Date.now() < deadline && (code = await healthcheck(stage, dir, env)) !== 0) await new Promise((r) => setTimeout(r, 250));
      expect(code, started.output()).toBe(0);
    } finally {
      await started.stop();
    }
    expect(await healthcheck(stage, dir, env)).toBe(1);
  }, 150_000);

  it('HTTP_HOST is the address a built service binds', async () => {
    const { dir, stage } = runtimeFolder('apps/admission/Dockerfile');
    const port = await freePort();
    const env = { ...system.env({}), ...runtimeEnv(stage), ADMISSION_PORT: String(port), HTTP_HOST: '127.0.0.2' };
    const started = startAndProbe(cmdOf(stage), { cwd: dir, env, port, host: '127.0.0.2', timeoutMs: 60_000 });
    try {
      await started.live;
      await expect(fetch(`http://127.0.0.1:${port}/health/live`)).rejects.toThrow();
    } finally {
      await started.stop();
    }
  }, 120_000);

  it('provision: the runtime stage creates the schemas in an empty database; its CLI creates a token there', async () => {
    const { dir, stage } = runtimeFolder(provisionDockerfile);
    const database = testName('provision');
    const databaseUrl = Object.assign(new URL(stack.databaseUrl), { pathname: `/${database}` }).toString();
    const env = { ...runtimeEnv(stage), KAFKA_BROKERS: stack.kafkaBrokers.join(','), DATABASE_URL: databaseUrl, CLICKHOUSE_URL: stack.clickhouseUrl, CLICKHOUSE_DATABASE: database };
    const ch = new Clickhouse({ url: stack.clickhouseUrl, database: 'default' });
    try {
      const [command, ...args] = cmdOf(stage);
      expect(command).toBe('node');
      const { stdout } = await run(process.execPath, args, { cwd: dir, env: { ...process.env, ...env } });
      expect(stdout).toMatch(/^provisioned: \d+ topics created, [1-9]\d* Postgres and [1-9]\d* ClickHouse migrations applied/m);
      const tables = await ch.query<{ name: string }>(sql`SELECT name FROM system.tables WHERE database = ${database}`);
      expect(tables.map((t) => t.name)).toContain('admission_decisions');

      const created = await run(process.execPath, ['dist/apps/cli/main.js', 'tokens', 'create', '--name', 'images-test', '--scope', 'ledger:read', '--json'], { cwd: dir, env: { ...process.env, ...env } });
      const token = JSON.parse(created.stdout) as { id: string; token: string; scopes: string[] };
      expect(token.scopes).toEqual(['ledger:read']);
      const rows = await withClient(databaseUrl, (c) => c.query('SELECT count(*)::int AS n FROM service_tokens WHERE id = $1', [token.id]));
      expect(rows.rows[0]).toEqual({ n: 1 });
    } finally {
      await ch.command(`DROP DATABASE IF EXISTS ${identifier(database)}`).catch(() => undefined);
      await ch.close();
      await withClient(stack.databaseUrl, (c) => c.query(`DROP DATABASE IF EXISTS "${database}"`)).catch(() => undefined);
    }
  }, 120_000);
});
