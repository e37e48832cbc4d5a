/**
 * No 5xx on bad input: a bounded, seeded fuzz of every `/v1` route of every service (routes discovered from each
 * service's OpenAPI document, so a new route is fuzzed without editing this file), with the four services running
 * as real processes on the local stack. Mutated bodies, headers, paths, queries and methods; each answer must be
 * below 500, every request made invalid on purpose must be answered 4xx, and the probe account those invalid
 * requests name must be unchanged afterwards (balance and ledger events).
 *
 * FUZZ_SEED and FUZZ_RUNS override the fixed seed and the number of runs per property (CI uses the defaults).
 */
import { request as httpRequest, Agent } from 'node:http';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireStack, testName } from '@access/testing';
import { startSystem, type ServiceName, type TestSystem } from '@access/testing-system';
import { arbitraryCases, invalidCases, unknownRouteCases, type CaseOptions, type FuzzCase, type Route } from './cases';

const seed = Number(process.env.FUZZ_SEED ?? 20261204);
const runs = Number(process.env.FUZZ_RUNS ?? 500);
const services: ServiceName[] = ['admission', 'credit-ledger', 'usage-ingest', 'load-feedback'];
const admissionId = '01a241bf-f5f8-7527-a719-2d6efd058901';

interface Answer {
  status: number;
  body: string;
}

const agent = new Agent({ keepAlive: true, maxSockets: 8 });

/** Sends exactly the bytes and headers of a case (fetch would normalise some of them). No answer is status 0. */
function send(url: string, c: FuzzCase): Promise<Answer> {
  return new Promise((resolve) => {
    const target = new URL(url);
    const headers: Record<string, string | number> = { ...c.headers };
    if (c.body !== undefined) headers['content-length'] = c.body.length;
    const req = httpRequest({ host: target.hostname, port: target.port, method: c.method, path: c.path, headers, agent, timeout: 15_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8').slice(0, 500) }));
      res.on('error', (e) => resolve({ status: 0, body: `response error: ${e.message}` }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ status: 0, body: `request error: ${e.message}` }));
    if (c.body !== undefined) req.write(c.body);
    req.end();
  });
}

describe('HTTP fuzz: no 5xx on bad input, and invalid input changes nothing', () => {
  let system: TestSystem;
  let routes: Route[];
  let options: CaseOptions;
  const probe = testName('probe');
  const hits = new Map<string, number>();
  let probeBefore: { balance: unknown; events: unknown };

  const url = (service: string) => system.urls[service as ServiceName]!;
  async function get(service: string, path: string): Promise<unknown> {
    const r = await fetch(`${url(service)}${path}`, { headers: { authorization: `Bearer ${system.token}` } });
    expect(r.status, path).toBe(200);
    return r.json();
  }
  async function probeState() {
    const balance = (await get('credit-ledger', `/v1/accounts/${probe}/balance`)) as Record<string, unknown>;
    const events = await get('credit-ledger', `/v1/accounts/${probe}/events?limit=1000`);
    // asOf is the time of the answer, not state.
    const { asOf: _asOf, ...state } = balance;
    return { balance: state, events };
  }

  beforeAll(async () => {
    system = await startSystem(await requireStack(), services);
    const write = async (method: string, path: string, body: unknown) => {
      const r = await fetch(`${url('credit-ledger')}${path}`, { method, headers: { authorization: `Bearer ${system.token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      expect([200, 201], `${method} ${path}`).toContain(r.status);
    };
    await write('PUT', `/v1/accounts/${probe}`, { plan: 'payg' });
    await write('POST', `/v1/accounts/${probe}/grants`, { grantId: 'g-probe', credits: 1_000, source: 'purchase' });
    routes = [];
    for (const service of services) {
      const doc = (await (await fetch(`${url(service)}/docs/openapi.json`)).json()) as { paths?: Record<string, Record<string, unknown>> };
      for (const [template, methods] of Object.entries(doc.paths ?? {})) {
        if (!template.startsWith('/v1/')) continue;
        for (const method of Object.keys(methods)) routes.push({ service, method, template });
      }
    }
    const bodies: Record<string, (accountId: string) => unknown> = {
      'post /v1/admissions': (accountId) => ({
        requestId: 'req-fuzz-1', accountId, userId: 'u-1', model: 'sora-2', endpoint: 'video.generate', priority: 'standard',
        estimate: { meters: { video_seconds: 10 }, dimensions: { resolution: '720p' } },
      }),
      'post /v1/admissions/{admissionId}/complete': (accountId) => ({
        admissionId, requestId: 'req-fuzz-1', accountId, userId: 'u-1', model: 'sora-2', endpoint: 'video.generate', status: 'succeeded',
        meters: { video_seconds: 8 }, dimensions: { resolution: '720p' }, gpuSeconds: 12.5, durationMs: 4_000,
        startedAt: '2026-12-04T10:00:00.000Z', endedAt: '2026-12-04T10:00:04.000Z',
      }),
      'put /v1/accounts/{accountId}': () => ({ plan: 'payg' }),
      'post /v1/accounts/{accountId}/grants': () => ({ grantId: 'g-fuzz', credits: 100, source: 'promo', priority: 10 }),
      'post /v1/accounts/{accountId}/adjustments': () => ({ adjustmentId: 'adj-fuzz', credits: 5, reason: 'fuzz' }),
    };
    options = {
      routes,
      baseBody: (route, accountId) => bodies[`${route.method} ${route.template}`]?.(accountId) ?? {},
      pathParams: (_route, accountId) => ({ accountId, admissionId }),
      token: system.token,
      probeAccountId: probe,
      scratchAccountId: fc.constantFrom('fuzz-scratch-1', 'fuzz-scratch-2', probe.replace('probe', 'other')),
      services,
    };
    probeBefore = await probeState();
  }, 360_000);

  afterAll(async () => {
    agent.destroy();
    await system?.close();
  });

  it('discovers the known /v1 routes of admission and the ledger from their OpenAPI documents', () => {
    const names = routes.map((r) => `${r.service} ${r.method.toUpperCase()} ${r.template}`);
    expect(names).toEqual(expect.arrayContaining([
      'admission POST /v1/admissions',
      'admission POST /v1/admissions/{admissionId}/complete',
      'credit-ledger PUT /v1/accounts/{accountId}',
      'credit-ledger GET /v1/accounts/{accountId}/balance',
      'credit-ledger POST /v1/accounts/{accountId}/grants',
      'credit-ledger POST /v1/accounts/{accountId}/adjustments',
      'credit-ledger GET /v1/accounts/{accountId}/events',
    ]));
  });

  const check = async (c: FuzzCase, expectClientError: boolean): Promise<void> => {
    const answer = await send(url(c.service), c);
    const key = `${c.kind} ${c.service} ${c.what.split(':')[0]}`;
    hits.set(key, (hits.get(key) ?? 0) + 1);
    const detail = `${c.what} [${Object.entries(c.headers).map(([k, v]) => `${k}: ${v.slice(0, 40)}`).join('; ')}] → ${answer.status} ${answer.body}`;
    expect(answer.status, detail).toBeGreaterThanOrEqual(200);
    expect(answer.status, detail).toBeLessThan(500);
    if (expectClientError) expect(answer.status, detail).toBeGreaterThanOrEqual(400);
  };

  it('invalid bodies for the probe account are answered 4xx (never 5xx)', async () => {
    await fc.assert(fc.asyncProperty(invalidCases(options), (c) => check(c, true)), { seed, numRuns: runs, endOnFailure: true });
    const routesWithBody = routes.filter((r) => r.method === 'post' || r.method === 'put');
    for (const route of routesWithBody) {
      expect(hits.get(`invalid ${route.service} ${route.method.toUpperCase()} ${route.template}`), `${route.template} fuzzed`).toBeGreaterThan(0);
    }
  }, 180_000);

  it('arbitrary bodies, paths, queries, methods and headers on every route are never answered 5xx', async () => {
    await fc.assert(fc.asyncProperty(arbitraryCases(options), (c) => check(c, false)), { seed: seed + 1, numRuns: runs, endOnFailure: true });
  }, 180_000);

  it('unknown /v1 paths on every service (usage-ingest and load-feedback included) are never answered 5xx', async () => {
    await fc.assert(fc.asyncProperty(unknownRouteCases(options), (c) => check(c, false)), { seed: seed + 2, numRuns: Math.ceil(runs / 2), endOnFailure: true });
  }, 180_000);

  it('the probe account is unchanged: the same balance and the same ledger events', async () => {
    // The invalid requests had their answers; give anything they might have published time to arrive first.
    await new Promise((r) => setTimeout(r, 2_000));
    expect(await probeState()).toEqual(probeBefore);
  });
});
