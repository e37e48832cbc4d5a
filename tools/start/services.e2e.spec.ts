/**
 * The four service shells, booted as real processes against the local stack: health, readiness, metrics,
 * the scope guard, configuration validated at boot, and a clean exit on SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDataSource, type DataSource } from '@access/platform-postgres';
import { requireStack } from '@access/testing';

const root = join(__dirname, '..', '..');
// tsx as a loader in the service's own process: tsx's CLI would run it in a grandchild that a kill of the
// CLI leaves running (holding its port), which would make restart and crash tests meaningless.
const tsx = ['--import', 'tsx'];
const services = [
  { name: 'admission', entry: 'apps/admission/src/main.ts', portVar: 'ADMISSION_PORT', port: 17100 },
  { name: 'credit-ledger', entry: 'apps/credit-ledger/src/main.ts', portVar: 'LEDGER_PORT', port: 17200 },
  { name: 'usage-ingest', entry: 'apps/usage-ingest/src/main.ts', portVar: 'USAGE_INGEST_PORT', port: 17300 },
  { name: 'load-feedback', entry: 'apps/load-feedback/src/main.ts', portVar: 'LOAD_FEEDBACK_PORT', port: 17400 },
];

function run(entry: string, env: Record<string, string>): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  let output = '';
  const child = spawn(process.execPath, [...tsx, join(root, entry)], { cwd: root, env: { ...process.env, ...env, LOG_LEVEL: 'warn' } });
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

async function waitReady(port: number, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/health/ready`);
      if (r.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`port ${port} not ready in ${timeoutMs} ms`);
}

describe('service shells', () => {
  const running: ReturnType<typeof run>[] = [];
  let db: DataSource;

  beforeAll(async () => {
    const stack = await requireStack();
    db = createDataSource({ url: stack.databaseUrl });
    await db.initialize();
    await db.query('SELECT 1 FROM service_tokens LIMIT 1'); // the shells read tokens from here
    for (const s of services) running.push(run(s.entry, { [s.portVar]: String(s.port) }));
    await Promise.all(services.map((s) => waitReady(s.port)));
  }, 120_000);

  afterAll(async () => {
    for (const r of running) r.child.kill('SIGKILL');
    await db?.destroy();
  });

  it.each(services)('$name serves live, ready and Prometheus metrics', async ({ port, name }) => {
    expect((await fetch(`http://127.0.0.1:${port}/health/live`)).status).toBe(200);
    const ready = await fetch(`http://127.0.0.1:${port}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready' });
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toContain(`service="${name}"`);
    expect((await fetch(`http://127.0.0.1:${port}/docs/openapi.json`)).status).toBe(200);
  });

  it.each(services)('$name answers unknown routes with problem+json', async ({ port }) => {
    const r = await fetch(`http://127.0.0.1:${port}/no-such-route`);
    expect(r.status).toBe(404);
    expect(r.headers.get('content-type')).toContain('application/problem+json');
    expect(await r.json()).toMatchObject({ status: 404, code: 'HTTP.NOT_FOUND' });
  });

  it.each(services)('$name exits at boot naming a bad configuration variable', async ({ entry, portVar }) => {
    const bad = run(entry, { [portVar]: 'not-a-port' });
    expect(await bad.exited).toBe(1);
    expect(bad.output()).toContain(`${portVar}:`);
    expect(bad.output()).toContain('not-a-port');
  });

  it('shuts down cleanly on SIGTERM', async () => {
    const s = running[3]!;
    s.child.kill('SIGTERM');
    expect(await s.exited).toBe(0);
  });
});
