/**
 * The four service shells, booted as real processes against the local stack: health, readiness, metrics,
 * the scope guard, configuration validated at boot, and a clean exit on SIGTERM.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDataSource, type DataSource } from '@access/platform-postgres';
import { requireStack, startService, waitReady, type Service } from '@access/testing';

const services = [
  { name: 'admission', entry: 'apps/admission/src/main.ts', portVar: 'ADMISSION_PORT', port: 17100 },
  { name: 'credit-ledger', entry: 'apps/credit-ledger/src/main.ts', portVar: 'LEDGER_PORT', port: 17200 },
  { name: 'usage-ingest', entry: 'apps/usage-ingest/src/main.ts', portVar: 'USAGE_INGEST_PORT', port: 17300 },
  { name: 'load-feedback', entry: 'apps/load-feedback/src/main.ts', portVar: 'LOAD_FEEDBACK_PORT', port: 17400 },
];

describe('service shells', () => {
  const running: Service[] = [];
  let db: DataSource;

  beforeAll(async () => {
    const stack = await requireStack();
    db = createDataSource({ url: stack.databaseUrl });
    await db.initialize();
    await db.query('SELECT 1 FROM service_tokens LIMIT 1'); // the shells read tokens from here
    for (const s of services) running.push(startService(s.entry, { [s.portVar]: String(s.port) }, s.port));
    await Promise.all(running.map((s) => waitReady(s)));
  }, 120_000);

  afterAll(async () => {
    await Promise.all(running.map((r) => r.kill('SIGKILL')));
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
    const bad = startService(entry, { [portVar]: 'not-a-port' }, 0);
    expect(await bad.exited).toBe(1);
    expect(bad.output()).toContain(`${portVar}:`);
    expect(bad.output()).toContain('not-a-port');
  });

  it('shuts down cleanly on SIGTERM', async () => {
    const s = running[3]!;
    expect(await s.kill('SIGTERM')).toBe(0);
  });
});
