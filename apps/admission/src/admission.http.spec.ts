/**
 * The admission API in a real Nest + Fastify app (in-process, injected requests), with the use cases
 * on a test clock and an in-memory sink: every status code, header and problem body of CONTRACTS.md,
 * and that no invalid request changes state.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import pino from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AdmissionService, ManualClock, MemorySink, sequentialIds } from '@access/admission-application';
import { ADMISSION_BODY_LIMIT_BYTES, soloRouter } from '@access/admission-adapters';
import { parseCatalog } from '@access/catalog';
import { generateToken, hashToken, type StoredToken, type TokenStore } from '@access/platform-auth';
import { ProblemFilter, Readiness } from '@access/platform-http';
import { AdmissionAppModule } from './app.module';
import { admissionOpenApi } from './openapi';

const root = join(__dirname, '..', '..', '..');
const catalog = (() => {
  const r = parseCatalog(readFileSync(join(root, 'config', 'plans.yaml'), 'utf8'), readFileSync(join(root, 'config', 'price-book.yaml'), 'utf8'));
  if (!r.ok) throw new Error('catalog');
  return r.value;
})();

const decider = generateToken();
const reader = generateToken();
const tokens: StoredToken[] = [
  { id: 'd', name: 'decider', hash: hashToken(decider), scopes: ['admission:decide'] },
  { id: 'r', name: 'reader', hash: hashToken(reader), scopes: ['ledger:read'] },
];
const tokenStore = { active: async () => tokens } as unknown as TokenStore;

/** The app is built once; each test swaps in a fresh service behind it (the module holds this holder). */
class Harness {
  clock = new ManualClock();
  sink = new MemorySink();
  service = this.fresh();
  fresh(): AdmissionService {
    this.clock = new ManualClock();
    this.sink = new MemorySink();
    this.service = new AdmissionService({ catalog, sink: this.sink, clock: this.clock, ids: sequentialIds(this.clock) });
    return this.service;
  }
}

let app: NestFastifyApplication;
const h = new Harness();
// A stand-in whose methods forward to the current harness service, so each test starts from nothing.
const proxy = new Proxy({} as AdmissionService, {
  get: (_t, name) => {
    const value = Reflect.get(h.service, name) as unknown;
    return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(h.service) : value;
  },
});

beforeAll(async () => {
  const logger = pino({ level: 'silent' });
  const module = AdmissionAppModule.forRoot(proxy, soloRouter(), { logger, metrics: new Registry(), readiness: new Readiness(), tokenStore, openapi: admissionOpenApi() });
  app = await NestFactory.create<NestFastifyApplication>(module, new FastifyAdapter({ bodyLimit: ADMISSION_BODY_LIMIT_BYTES }), { logger: false });
  app.useGlobalFilters(new ProblemFilter(logger));
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
});
afterAll(async () => app?.close());
beforeEach(() => {
  h.fresh().finishReplay();
});

let n = 0;
const body = (overrides: Record<string, unknown> = {}) => ({
  requestId: `req-${++n}`,
  accountId: 'acct-7',
  userId: 'u-1',
  model: 'sora-2',
  endpoint: 'video.generate',
  priority: 'standard',
  estimate: { meters: { video_seconds: 10 }, dimensions: { resolution: '720p' } },
  ...overrides,
});
const admit = (payload: unknown, token: string | null = decider, headers: Record<string, string> = {}) =>
  app.inject({
    method: 'POST',
    url: '/v1/admissions',
    headers: { ...(token === null ? {} : { authorization: `Bearer ${token}` }), 'content-type': 'application/json', ...headers },
    payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
  });
const complete = (admissionId: string, payload: unknown) =>
  app.inject({ method: 'POST', url: `/v1/admissions/${admissionId}/complete`, headers: { authorization: `Bearer ${decider}`, 'content-type': 'application/json' }, payload: JSON.stringify(payload) });
const account = (id: string, plan: string, credits: number, version = 1) =>
  h.service.applyBalance({ accountId: id, version, balanceCredits: credits, heldCredits: 0, availableCredits: credits, plan, occurredAt: '2026-11-25T10:00:00.000Z' });
const completionBody = (answer: { admissionId: string; requestId: string }, seconds = 5) => ({
  admissionId: answer.admissionId, requestId: answer.requestId, accountId: 'acct-7', userId: 'u-1', model: 'sora-2', endpoint: 'video.generate',
  status: 'succeeded', meters: { video_seconds: seconds }, dimensions: { resolution: '720p' }, gpuSeconds: 12.5, durationMs: 4000,
  startedAt: '2026-11-25T10:00:00.000Z', endedAt: '2026-11-25T10:00:04.000Z',
});

function expectRateLimitHeaders(headers: Record<string, unknown>, limit: number, remaining: number) {
  expect(headers['ratelimit-policy']).toBe(`"requests";q=${limit};w=60`);
  expect(headers['ratelimit']).toMatch(new RegExp(`^"requests";r=${remaining};t=\\d+$`));
  expect(headers['x-ratelimit-limit-requests']).toBe(String(limit));
  expect(headers['x-ratelimit-remaining-requests']).toBe(String(remaining));
  expect(headers['x-ratelimit-reset-requests']).toMatch(/^(\d+ms|(\d+m)?\d+(\.\d+)?s)$/);
}

describe('POST /v1/admissions: decisions', () => {
  it('200 admitted: the contract body, RateLimit headers, and durable before the answer', async () => {
    account('acct-7', 'plus', 1_000);
    const r = await admit(body({ estimate: { meters: { video_seconds: 10 }, dimensions: { resolution: '1080p' } } }));
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toContain('application/json');
    expectRateLimitHeaders(r.headers, 60, 59);
    const answer = r.json();
    expect(answer).toMatchObject({
      decision: 'admitted',
      estimatedCredits: 200,
      fundedBy: [{ source: 'allowance', window: '5h', credits: 200 }],
      priceBookVersion: '2026-11-01',
      reservationExpiresAt: '2026-11-25T10:30:00.000Z',
      decidedBy: 'allowance',
    });
    expect(answer.admissionId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7/);
    expect(answer.limits.map((l: { name: string }) => l.name)).toEqual(['user.requests_per_minute', 'user.concurrent_requests', 'account.credits_per_minute', 'allowance.video.5h', 'allowance.video.7d']);
    expect(h.sink.decisions.map((d) => d.admissionId)).toEqual([answer.admissionId]);
  });

  it('200 funded partly by allowance and partly by credits', async () => {
    account('acct-7', 'free', 500);
    const r = await admit(body({ estimate: { meters: { video_seconds: 15 }, dimensions: { resolution: '720p' } } }));
    expect(r.json()).toMatchObject({ decidedBy: 'credits', heldCredits: 50, fundedBy: [{ source: 'allowance', window: '5h', credits: 100 }, { source: 'credits', credits: 50 }] });
  });

  it('402 insufficient_credits with estimatedCredits and availableCredits, as problem+json', async () => {
    account('acct-7', 'payg', 40);
    const r = await admit(body());
    expect(r.statusCode).toBe(402);
    expect(r.headers['content-type']).toContain('application/problem+json');
    expect(r.json()).toMatchObject({ status: 402, code: 'ADMISSION.INSUFFICIENT_CREDITS', decision: 'rejected', reason: 'insufficient_credits', estimatedCredits: 100, availableCredits: 40, type: expect.any(String), title: 'Payment Required' });
    expect(h.sink.decisions[0]).toMatchObject({ decision: 'rejected', reason: 'insufficient_credits' });
  });

  it('429 rate_limited with Retry-After, retryAfterMs and RateLimit headers; retrying after retryAfterMs succeeds', async () => {
    account('acct-7', 'free', 0);
    // free: 10 requests per minute per user, one at a time; each zero-cost request is completed at once.
    for (let i = 0; i < 10; i++) {
      const ok = await admit(body({ estimate: { meters: { video_seconds: 0 }, dimensions: { resolution: '720p' } } }));
      expect(ok.statusCode).toBe(200);
      expect((await complete(ok.json().admissionId, completionBody(ok.json(), 0))).statusCode).toBe(202);
    }
    const request = body({ estimate: { meters: { video_seconds: 0 }, dimensions: { resolution: '720p' } } });
    const r = await admit(request);
    expect(r.statusCode).toBe(429);
    expect(r.headers['content-type']).toContain('application/problem+json');
    const problem = r.json();
    expect(problem).toMatchObject({ status: 429, code: 'ADMISSION.RATE_LIMITED', decision: 'rejected', reason: 'rate_limited', decidedBy: 'protective_limits' });
    expect(problem.retryAfterMs).toBeGreaterThan(0);
    expect(r.headers['retry-after']).toBe(String(Math.ceil(problem.retryAfterMs / 1000)));
    expectRateLimitHeaders(r.headers, 10, 0);
    // Retries carry new requestIds: the same one returns its first decision unchanged (CONTRACTS.md).
    h.clock.advance(problem.retryAfterMs - 1);
    expect((await admit({ ...request, requestId: `${request.requestId}-retry-1` })).statusCode).toBe(429);
    h.clock.advance(1);
    const same = await admit(request);
    expect(same.statusCode).toBe(429);
    expect(same.json()).toEqual(problem);
    expect((await admit({ ...request, requestId: `${request.requestId}-retry-2` })).statusCode).toBe(200);
  });

  it('429 concurrency_limited while the user has as many requests running as the plan allows', async () => {
    account('acct-7', 'free', 1_000);
    expect((await admit(body())).statusCode).toBe(200);
    const r = await admit(body());
    expect(r.statusCode).toBe(429);
    expect(r.json()).toMatchObject({ code: 'ADMISSION.CONCURRENCY_LIMITED', reason: 'concurrency_limited', retryAfterMs: 30 * 60_000 });
    expect(r.headers['retry-after']).toBe('1800');
    expectRateLimitHeaders(r.headers, 10, 9);
  });

  it('429 load_shed when the load multiplier for (model, plan, priority) is 0', async () => {
    account('acct-7', 'plus', 1_000);
    h.service.applyLimits({ model: 'sora-2', plan: 'plus', priority: 'batch', multiplier: 0, reason: 'overload', inputs: {} });
    const r = await admit(body({ priority: 'batch' }));
    expect(r.statusCode).toBe(429);
    expect(r.json()).toMatchObject({ code: 'ADMISSION.LOAD_SHED', reason: 'load_shed', decidedBy: 'load_shedding', retryAfterMs: 15_000, multipliers: { load: 0, reputation: 1 } });
    expect(r.headers['retry-after']).toBe('15');
    expect((await admit(body({ priority: 'standard' }))).statusCode).toBe(200);
  });
});

describe('POST /v1/admissions: idempotency by requestId', () => {
  it('the same body again returns the first decision unchanged (keys in another order, priority defaulted)', async () => {
    account('acct-7', 'payg', 1_000);
    const first = await admit(body({ requestId: 'same-1', priority: undefined }));
    h.clock.advance(5_000);
    const again = await admit({ estimate: { dimensions: { resolution: '720p' }, meters: { video_seconds: 10 } }, endpoint: 'video.generate', model: 'sora-2', userId: 'u-1', accountId: 'acct-7', requestId: 'same-1', priority: 'standard' });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual(first.json());
    expect(again.headers['ratelimit']).toBe(first.headers['ratelimit']);
    expect(h.sink.decisions).toHaveLength(1);
    expect(h.service.state.account('acct-7')?.availableCredits).toBe(900);
  });

  it('409 when the same requestId comes with a different body, and nothing changes', async () => {
    account('acct-7', 'payg', 1_000);
    const first = await admit(body({ requestId: 'same-2' }));
    const r = await admit(body({ requestId: 'same-2', estimate: { meters: { video_seconds: 11 }, dimensions: { resolution: '720p' } } }));
    expect(r.statusCode).toBe(409);
    expect(r.json()).toMatchObject({ status: 409, code: 'ADMISSION.REQUEST_ID_CONFLICT', requestId: 'same-2', admissionId: first.json().admissionId });
    expect(h.sink.decisions).toHaveLength(1);
    expect(h.service.state.account('acct-7')?.availableCredits).toBe(900);
  });
});

describe('POST /v1/admissions: invalid requests answer 400 naming the field and change nothing', () => {
  const cases: [string, unknown, string, string][] = [
    ['missing requestId', body({ requestId: undefined }), 'ADMISSION.INVALID_REQUEST', 'requestId'],
    ['requestId with a space', body({ requestId: 'req 1' }), 'ADMISSION.INVALID_REQUEST', 'requestId'],
    ['accountId too long', body({ accountId: 'a'.repeat(129) }), 'ADMISSION.INVALID_REQUEST', 'accountId'],
    ['userId a number', body({ userId: 7 }), 'ADMISSION.INVALID_REQUEST', 'userId'],
    ['endpoint missing', body({ endpoint: undefined }), 'ADMISSION.INVALID_REQUEST', 'endpoint'],
    ['unknown priority', body({ priority: 'urgent' }), 'ADMISSION.INVALID_REQUEST', 'priority'],
    ['unknown field', body({ priorty: 'batch' }), 'ADMISSION.INVALID_REQUEST', 'priorty'],
    ['estimate missing', body({ estimate: undefined }), 'ADMISSION.INVALID_REQUEST', 'estimate'],
    ['negative meter', body({ estimate: { meters: { video_seconds: -1 }, dimensions: { resolution: '720p' } } }), 'ADMISSION.INVALID_REQUEST', 'estimate.meters.video_seconds'],
    ['meter as a string', body({ estimate: { meters: { video_seconds: '10' }, dimensions: { resolution: '720p' } } }), 'ADMISSION.INVALID_REQUEST', 'estimate.meters.video_seconds'],
    ['dimension as a number', body({ estimate: { meters: { video_seconds: 1 }, dimensions: { resolution: 720 } } }), 'ADMISSION.INVALID_REQUEST', 'estimate.dimensions.resolution'],
    ['unknown model', body({ model: 'sora-3' }), 'ADMISSION.UNKNOWN_MODEL', 'model'],
    ['meter the model does not have', body({ estimate: { meters: { tokens: 1 }, dimensions: { resolution: '720p' } } }), 'ADMISSION.INVALID_ESTIMATE', 'estimate.meters.tokens'],
    ['missing dimension', body({ estimate: { meters: { video_seconds: 1 }, dimensions: {} } }), 'ADMISSION.INVALID_ESTIMATE', 'estimate.dimensions.resolution'],
    ['unknown dimension value', body({ estimate: { meters: { video_seconds: 1 }, dimensions: { resolution: '4k' } } }), 'ADMISSION.INVALID_ESTIMATE', 'estimate.dimensions.resolution'],
    ['critical on a plan without it', body({ priority: 'critical' }), 'ADMISSION.PRIORITY_NOT_ALLOWED', 'priority'],
    ['body an array', [], 'ADMISSION.INVALID_REQUEST', '(body)'],
  ];
  it.each(cases)('%s', async (_name, payload, code, path) => {
    const r = await admit(payload);
    expect(r.statusCode).toBe(400);
    expect(r.headers['content-type']).toContain('application/problem+json');
    const problem = r.json();
    expect(problem).toMatchObject({ status: 400, code, title: 'Bad Request' });
    expect(problem.errors.map((e: { path: string }) => e.path)).toContain(path);
    expect(h.sink.decisions).toHaveLength(0);
    expect(h.service.state.stats().accounts).toBe(0);
  });

  it('a non-finite meter (1e999 parses to Infinity) is refused', async () => {
    const r = await admit(JSON.stringify(body()).replace('"video_seconds":10', '"video_seconds":1e999'));
    expect(r.statusCode).toBe(400);
    expect(r.json().errors.map((e: { path: string }) => e.path)).toContain('estimate.meters.video_seconds');
  });

  it('malformed JSON → 400 HTTP.MALFORMED_BODY', async () => {
    const r = await admit('{"requestId": ');
    expect(r.statusCode).toBe(400);
    expect(r.json()).toMatchObject({ code: 'HTTP.MALFORMED_BODY' });
  });

  it('a body over 16 KiB → 413 problem', async () => {
    const r = await admit(body({ endpoint: 'x'.repeat(ADMISSION_BODY_LIMIT_BYTES) }));
    expect(r.statusCode).toBe(413);
    expect(r.headers['content-type']).toContain('application/problem+json');
    expect(r.json()).toMatchObject({ status: 413, code: 'HTTP.BODY_TOO_LARGE' });
    expect(h.sink.decisions).toHaveLength(0);
  });

  it('a body that is not a JSON object (text/plain) → 400 problem, and an unknown media type → 415', async () => {
    const text = await admit('requestId=1', decider, { 'content-type': 'text/plain' });
    expect(text.statusCode).toBe(400);
    expect(text.json()).toMatchObject({ code: 'ADMISSION.INVALID_REQUEST', errors: [{ path: '(body)' }] });
    const xml = await admit('<admission/>', decider, { 'content-type': 'application/xml' });
    expect(xml.statusCode).toBe(415);
    expect(xml.json()).toMatchObject({ code: 'HTTP.UNSUPPORTED_MEDIA_TYPE' });
    expect(h.sink.decisions).toHaveLength(0);
  });
});

describe('POST /v1/admissions: authentication and availability', () => {
  it.each([
    ['no token', null, 401, 'AUTH.MISSING_TOKEN'],
    ['unknown token', generateToken(), 401, 'AUTH.UNKNOWN_TOKEN'],
    ['token without admission:decide', reader, 403, 'AUTH.MISSING_SCOPE'],
  ] as const)('%s → %s', async (_name, token, status, code) => {
    const r = await admit(body(), token);
    expect(r.statusCode).toBe(status);
    expect(r.json()).toMatchObject({ status, code });
    expect(h.sink.decisions).toHaveLength(0);
  });

  it('503 with Retry-After while state is being rebuilt', async () => {
    h.fresh();
    const r = await admit(body());
    expect(r.statusCode).toBe(503);
    expect(r.headers['retry-after']).toBe('1');
    expect(r.json()).toMatchObject({ code: 'ADMISSION.NOT_READY' });
  });

  it('503 when the decision cannot be made durable, and the admission is undone', async () => {
    account('acct-7', 'payg', 1_000);
    h.sink.mode = 'fail';
    const r = await admit(body());
    expect(r.statusCode).toBe(503);
    expect(r.json()).toMatchObject({ code: 'ADMISSION.UNAVAILABLE' });
    expect(h.service.state.account('acct-7')?.availableCredits).toBe(1_000);
    expect(h.service.state.slotsInUse('acct-7', 'u-1')).toBe(0);
  });

  it('serves the OpenAPI document at /docs', async () => {
    const r = await app.inject({ method: 'GET', url: '/docs/openapi.json' });
    expect(Object.keys(r.json().paths)).toEqual(['/v1/admissions', '/v1/admissions/{admissionId}/complete']);
    expect((await app.inject({ method: 'GET', url: '/docs' })).statusCode).toBe(200);
  });
});

describe('POST /v1/admissions/{admissionId}/complete', () => {
  it('202, publishes usage.request_completed and frees the slot; completing twice is a 202 no-op', async () => {
    account('acct-7', 'free', 1_000);
    const first = (await admit(body())).json();
    expect((await admit(body())).statusCode).toBe(429); // one slot on free
    const r = await complete(first.admissionId, completionBody(first, 4));
    expect(r.statusCode).toBe(202);
    expect(r.json()).toEqual({ status: 'accepted', admissionId: first.admissionId, duplicate: false });
    expect(h.sink.completions).toHaveLength(1);
    expect((await complete(first.admissionId, completionBody(first, 4))).json()).toMatchObject({ duplicate: true });
    expect(h.sink.completions).toHaveLength(1);
    expect((await admit(body())).statusCode).toBe(200);
  });

  it.each([
    ['path id not a UUIDv7', 'adm-1', {}, 'admissionId'],
    ['body for another admission', '01a21225-d901-798e-acb8-2034fba541ed', { admissionId: '01a21225-d901-798e-acb8-2034fba541ee' }, 'admissionId'],
    ['bad status', '01a21225-d901-798e-acb8-2034fba541ed', { status: 'done' }, 'status'],
    ['endedAt before startedAt', '01a21225-d901-798e-acb8-2034fba541ed', { endedAt: '2026-11-25T09:00:00.000Z' }, 'endedAt'],
  ])('400 for %s', async (_name, id, overrides, path) => {
    const payload = { ...completionBody({ admissionId: '01a21225-d901-798e-acb8-2034fba541ed', requestId: 'req-1' }), ...overrides };
    const r = await complete(id, payload);
    expect(r.statusCode).toBe(400);
    expect(r.json().errors.map((e: { path: string }) => e.path)).toContain(path);
    expect(h.sink.completions).toHaveLength(0);
  });
});
