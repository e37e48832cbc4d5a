/**
 * `npm start`: (after infra:up) ensures a development token, starts the four services in the foreground,
 * waits until every /health/ready answers 200, and stops them all on Ctrl-C.
 * Service logs (JSON) go to .local/logs/<service>.log; this terminal shows what matters.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SCOPES, TokenStore, generateToken } from '@access/platform-auth';
import { commonEnvSchema, loadEnvOrExit } from '@access/platform-config';
import { createDataSource } from '@access/platform-postgres';

const root = join(__dirname, '..', '..');
const logDir = join(root, '.local', 'logs');
const env = loadEnvOrExit(commonEnvSchema);

export const services = [
  { name: 'admission', entry: 'apps/admission/src/main.ts', port: env.ADMISSION_PORT },
  { name: 'credit-ledger', entry: 'apps/credit-ledger/src/main.ts', port: env.LEDGER_PORT },
  { name: 'usage-ingest', entry: 'apps/usage-ingest/src/main.ts', port: env.USAGE_INGEST_PORT },
  { name: 'load-feedback', entry: 'apps/load-feedback/src/main.ts', port: env.LOAD_FEEDBACK_PORT },
] as const;

/** The development token: created once per checkout, kept in .local/dev-token, with every scope. */
async function developmentToken(): Promise<string> {
  const file = join(root, '.local', 'dev-token');
  const token = existsSync(file) ? readFileSync(file, 'utf8').trim() : generateToken();
  const db = createDataSource({ url: env.DATABASE_URL, poolSizeMax: 1, applicationName: 'access-start' });
  await db.initialize();
  try {
    await new TokenStore(db).ensure('development', token, [...SCOPES]);
  } finally {
    await db.destroy();
  }
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return token;
}

async function ready(port: number): Promise<boolean> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/health/ready`, { signal: AbortSignal.timeout(1_000) });
    return response.status === 200;
  } catch {
    return false;
  }
}

export function startService(service: (typeof services)[number]): ChildProcess {
  mkdirSync(logDir, { recursive: true });
  const log = openSync(join(logDir, `${service.name}.log`), 'a');
  return spawn(process.execPath, [join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(root, service.entry)], {
    cwd: root,
    stdio: ['ignore', log, log],
    env: process.env,
  });
}

async function main(): Promise<void> {
  const token = await developmentToken();
  const children = new Map<string, ChildProcess>();
  let stopping = false;
  for (const service of services) {
    const child = startService(service);
    children.set(service.name, child);
    child.on('exit', (code, signal) => {
      if (!stopping) {
        console.error(`${service.name} exited (${signal ?? code}); see ${join(logDir, `${service.name}.log`)}`);
        void stop(1);
      }
    });
  }

  async function stop(code: number): Promise<void> {
    if (stopping) return;
    stopping = true;
    console.log('\nstopping services …');
    await Promise.all(
      [...children.values()].map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGTERM');
            setTimeout(() => child.kill('SIGKILL'), 25_000).unref();
          }),
      ),
    );
    console.log('services stopped (the local stack keeps running; `npm run infra:down` stops it)');
    process.exit(code);
  }
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));

  const t0 = Date.now();
  const deadline = t0 + 120_000;
  const pending = new Set<string>(services.map((s) => s.name));
  while (pending.size > 0 && Date.now() < deadline && !stopping) {
    for (const service of services) if (pending.has(service.name) && (await ready(service.port))) pending.delete(service.name);
    if (pending.size > 0) await new Promise((r) => setTimeout(r, 500));
  }
  if (pending.size > 0) {
    console.error(`not ready after 120 s: ${[...pending].join(', ')}; logs in ${logDir}`);
    return stop(1);
  }
  console.log(`all services ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  for (const s of services) console.log(`  ${s.name.padEnd(14)} http://127.0.0.1:${s.port}  (/health/ready, /metrics, /docs)`);
  console.log(`\ndevelopment token (every scope):\n  ${token}\n\nlogs: ${logDir}/<service>.log   Ctrl-C stops the services`);
}

void main();
