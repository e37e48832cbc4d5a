/**
 * The client against a local node:http fake (no services): decisions as values, problem+json as typed errors,
 * retries with the same requestId on network errors and 503 (honouring Retry-After, bounded in attempts and
 * time), `run` completing with the job's meters or as cancelled, and ledger reads.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AccessApiError, AccessClient, AccessConfigurationError, AccessNetworkError, type AdmissionRequest } from '../src';
import { fakeClock, fakeServer, type FakeServer } from './fake-server';

const admissionId = '019ae9b4-6f2c-7c3e-8a41-3f6f0f2b9d10';
const request: AdmissionRequest = {
  requestId: 'req-42',
  accountId: 'acct-7',
  userId: 'u-1',
  model: 'sora-2',
  endpoint: 'video.generate',
  priority: 'standard',
  estimate: { meters: { video_seconds: 10 }, dimensions: { resolution: '1080p' } },
};
const limits = [{ name: 'user.requests_per_minute', limit: 60, remaining: 41, resetMs: 19_500 }];
const rateHeaders = { 'ratelimit-policy': '"requests";q=60;w=60', ratelimit: '"requests";r=41;t=20' };
const admitted = {
  decision: 'admitted', admissionId, requestId: 'req-42', estimatedCredits: 120,
  fundedBy: [{ source: 'credits', credits: 120 }], reservationExpiresAt: '2026-12-04T12:30:00.000Z', priceBookVersion: 'pb-1', limits,
};
const rateLimited = {
  type: 'https://access.internal/problems/admission/rate-limited', title: 'Too Many Requests', status: 429,
  detail: 'A protective rate limit is reached', code: 'ADMISSION.RATE_LIMITED', decision: 'rejected', reason: 'rate_limited',
  admissionId, requestId: 'req-42', retryAfterMs: 2_500, limits,
};

describe('AccessClient against a local fake', () => {
  let server: FakeServer;
  let clock: ReturnType<typeof fakeClock>;
  let client: AccessClient;

  beforeAll(async () => {
    server = await fakeServer();
  });
  afterAll(async () => {
    await server.close();
  });
  beforeEach(() => {
    server.received.length = 0;
    clock = fakeClock();
    client = new AccessClient({ admissionUrl: `${server.url}/`, ledgerUrl: server.url, token: 'acc_test', clock, retry: { attemptsMax: 4, totalMsMax: 30_000 } });
  });

  describe('admit', () => {
    it('given 200, then an admitted value with the RateLimit headers parsed, and the body sent as given with the bearer token', async () => {
      server.script({ status: 200, body: admitted, headers: rateHeaders });
      const result = await client.admit(request);
      expect(result).toMatchObject({ decision: 'admitted', admissionId, estimatedCredits: 120, fundedBy: [{ source: 'credits', credits: 120 }] });
      expect(result.rateLimit).toEqual({ policies: [{ name: 'requests', quota: 60, windowSeconds: 60 }], limits: [{ name: 'requests', remaining: 41, resetSeconds: 20 }] });
      expect(server.received).toHaveLength(1);
      expect(server.received[0]).toMatchObject({ method: 'POST', path: '/v1/admissions', body: request });
      expect(server.received[0]!.headers.authorization).toBe('Bearer acc_test');
      expect(server.received[0]!.headers['content-type']).toBe('application/json');
    });

    it('given 429, then a rejected value with its reason and retryAfterMs, not an exception, and no retry', async () => {
      server.script({ status: 429, body: rateLimited, headers: { ...rateHeaders, 'retry-after': '3' } });
      const result = await client.admit(request);
      expect(result).toMatchObject({ decision: 'rejected', status: 429, reason: 'rate_limited', code: 'ADMISSION.RATE_LIMITED', retryAfterMs: 2_500, limits });
      expect(result.rateLimit.limits).toEqual([{ name: 'requests', remaining: 41, resetSeconds: 20 }]);
      expect(server.received).toHaveLength(1);
    });

    it('given 429 without retryAfterMs in the body, then retryAfterMs comes from Retry-After', async () => {
      const { retryAfterMs: _omitted, ...body } = rateLimited;
      server.script({ status: 429, body: { ...body, reason: 'load_shed', code: 'ADMISSION.LOAD_SHED' }, headers: { 'retry-after': '7' } });
      expect(await client.admit(request)).toMatchObject({ decision: 'rejected', reason: 'load_shed', retryAfterMs: 7_000 });
    });

    it('given 402, then a rejected value with insufficient_credits and availableCredits', async () => {
      server.script({ status: 402, body: { ...rateLimited, status: 402, code: 'ADMISSION.INSUFFICIENT_CREDITS', reason: 'insufficient_credits', retryAfterMs: undefined, availableCredits: 15, estimatedCredits: 120 } });
      expect(await client.admit(request)).toMatchObject({ decision: 'rejected', status: 402, reason: 'insufficient_credits', availableCredits: 15, estimatedCredits: 120 });
    });

    it('given 400 problem+json, then AccessApiError with status, code and errors[], and no retry', async () => {
      const errors = [{ path: 'estimate.meters.video_seconds', message: 'Too small: expected number to be >=0' }];
      server.script({ status: 400, body: { type: 't', title: 'Bad Request', status: 400, detail: 'The admission request is invalid', code: 'ADMISSION.INVALID_REQUEST', errors } });
      const error = await client.admit(request).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AccessApiError);
      expect(error).toMatchObject({ status: 400, code: 'ADMISSION.INVALID_REQUEST', errors, attempts: 1 });
      expect(server.received).toHaveLength(1);
    });

    it.each([
      [401, 'AUTH.UNKNOWN_TOKEN'],
      [403, 'AUTH.MISSING_SCOPE'],
      [409, 'ADMISSION.REQUEST_ID_CONFLICT'],
    ])('given %i, then AccessApiError %s', async (status, code) => {
      server.script({ status, body: { type: 't', title: 'x', status, detail: 'd', code, requestId: 'req-42' } });
      await expect(client.admit(request)).rejects.toMatchObject({ name: 'AccessApiError', status, code, problem: { requestId: 'req-42' } });
    });

    it('given a 500 that is not problem+json, then AccessApiError HTTP.500 carrying the text, not retried (a 500 is not known to pass)', async () => {
      server.script({ status: 500, raw: 'upstream exploded' });
      await expect(client.admit(request)).rejects.toMatchObject({ status: 500, code: 'HTTP.500', problem: { detail: 'upstream exploded' } });
      expect(server.received).toHaveLength(1);
    });

    it('given 200 whose body is not an admission, then AccessApiError rather than a malformed value', async () => {
      server.script({ status: 200, body: { hello: 'world' } });
      await expect(client.admit(request)).rejects.toBeInstanceOf(AccessApiError);
    });
  });

  describe('retries', () => {
    it('given 503 with Retry-After twice, then it waits at least Retry-After and retries with the same requestId', async () => {
      const unavailable = { type: 't', title: 'Service Unavailable', status: 503, detail: 'rebuilding', code: 'ADMISSION.NOT_READY' };
      server.script({ status: 503, body: unavailable, headers: { 'retry-after': '2' } }, { status: 503, body: unavailable, headers: { 'retry-after': '1' } }, { status: 200, body: admitted });
      const result = await client.admit(request);
      expect(result.decision).toBe('admitted');
      expect(server.received.map((r) => (r.body as { requestId: string }).requestId)).toEqual(['req-42', 'req-42', 'req-42']);
      expect(clock.sleeps).toHaveLength(2);
      expect(clock.sleeps[0]).toBeGreaterThanOrEqual(2_000);
      expect(clock.sleeps[1]).toBeGreaterThanOrEqual(1_000);
    });

    it('given no requestId, then one is made and kept for every retry', async () => {
      const { requestId: _none, ...withoutId } = request;
      server.script({ destroy: true }, { status: 503, body: {} }, { status: 200, body: admitted });
      await client.admit(withoutId);
      const ids = server.received.map((r) => (r.body as { requestId: string }).requestId);
      expect(ids).toHaveLength(3);
      expect(new Set(ids).size).toBe(1);
      expect(ids[0]).toMatch(/^[0-9a-f-]{36}$/);
    });

    it('given a connection reset, then it retries (with jittered backoff) and answers', async () => {
      server.script({ destroy: true }, { destroy: true }, { status: 200, body: admitted });
      expect((await client.admit(request)).decision).toBe('admitted');
      expect(server.received).toHaveLength(3);
      // random() is 0.5: half of the 200 ms and 400 ms ceilings.
      expect(clock.sleeps).toEqual([100, 200]);
    });

    it('given 503 on every attempt, then after attemptsMax the 503 is thrown as AccessApiError naming the attempts', async () => {
      server.script({ status: 503, body: { type: 't', title: 'x', status: 503, detail: 'down', code: 'ADMISSION.UNAVAILABLE' }, headers: { 'retry-after': '1' } });
      await expect(client.admit(request)).rejects.toMatchObject({ status: 503, code: 'ADMISSION.UNAVAILABLE', attempts: 4 });
      expect(server.received).toHaveLength(4);
    });

    it('given a Retry-After beyond the total time budget, then it does not wait and throws at once', async () => {
      server.script({ status: 503, body: { type: 't', title: 'x', status: 503, detail: 'plan lag', code: 'ADMISSION.UNKNOWN_PLAN' }, headers: { 'retry-after': '60' } });
      await expect(client.admit(request)).rejects.toMatchObject({ status: 503, attempts: 1 });
      expect(clock.sleeps).toEqual([]);
    });

    it('given the connection always reset, then AccessNetworkError after attemptsMax', async () => {
      server.script({ destroy: true });
      const error = await client.admit(request).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AccessNetworkError);
      expect(error).toMatchObject({ attempts: 4 });
      expect(server.received).toHaveLength(4);
    });

    it('given no answer within requestTimeoutMs, then the attempt is abandoned and retried, within the bound', async () => {
      const impatient = new AccessClient({ admissionUrl: server.url, token: 'acc_test', requestTimeoutMs: 150, clock, retry: { attemptsMax: 2 } });
      server.script({ hang: true });
      const t0 = Date.now();
      await expect(impatient.admit(request)).rejects.toBeInstanceOf(AccessNetworkError);
      expect(server.received).toHaveLength(2);
      expect(Date.now() - t0).toBeLessThan(5_000);
    });

    it('with the real clock, Retry-After: 1 is waited out', async () => {
      const real = new AccessClient({ admissionUrl: server.url, token: 'acc_test' });
      server.script({ status: 503, body: {}, headers: { 'retry-after': '1' } }, { status: 200, body: admitted });
      const t0 = Date.now();
      expect((await real.admit(request)).decision).toBe('admitted');
      expect(Date.now() - t0).toBeGreaterThanOrEqual(1_000);
    });
  });

  describe('complete and progress', () => {
    const usage = {
      requestId: 'req-42', accountId: 'acct-7', userId: 'u-1', model: 'sora-2', endpoint: 'video.generate', status: 'succeeded' as const,
      meters: { video_seconds: 8 }, dimensions: { resolution: '1080p' }, gpuSeconds: 512.3, durationMs: 48_210,
      startedAt: '2026-12-04T12:00:00.000Z', endedAt: '2026-12-04T12:00:48.210Z',
    };

    it('complete posts the usage with the admissionId and reads 202', async () => {
      server.script({ status: 202, body: { status: 'accepted', admissionId, duplicate: true } });
      expect(await client.complete(admissionId, usage)).toEqual({ status: 'accepted', admissionId, duplicate: true });
      expect(server.received[0]).toMatchObject({ path: `/v1/admissions/${admissionId}/complete`, body: { admissionId, ...usage } });
    });

    it('complete is retried on 503 (completing twice is a no-op on the server)', async () => {
      server.script({ status: 503, body: {} }, { status: 202, body: { status: 'accepted', admissionId, duplicate: false } });
      expect((await client.complete(admissionId, usage)).status).toBe('accepted');
      expect(server.received).toHaveLength(2);
    });

    it('progress (against this fake only: the route may not exist server-side yet): continue, stop, and an unknown route as AccessApiError', async () => {
      server.script(
        { status: 200, body: { decision: 'continue', heldCredits: 300 } },
        { status: 402, body: { type: 't', title: 'Payment Required', status: 402, detail: 'no more credits', code: 'ADMISSION.INSUFFICIENT_CREDITS', decision: 'stop', reason: 'insufficient_credits' } },
        { status: 404, body: { type: 't', title: 'Not Found', status: 404, detail: 'Cannot POST', code: 'HTTP.NOT_FOUND' } },
      );
      expect(await client.progress(admissionId, { video_seconds: 4 })).toEqual({ decision: 'continue', heldCredits: 300 });
      expect(await client.progress(admissionId, { video_seconds: 9 })).toEqual({ decision: 'stop', reason: 'insufficient_credits', detail: 'no more credits' });
      await expect(client.progress(admissionId, { video_seconds: 9 })).rejects.toMatchObject({ status: 404, code: 'HTTP.NOT_FOUND' });
      expect(server.received[0]).toMatchObject({ path: `/v1/admissions/${admissionId}/progress`, body: { meters: { video_seconds: 4 } } });
    });
  });

  describe('run', () => {
    it('admits, runs the job, and completes with its actual meters', async () => {
      server.script({ status: 200, body: admitted }, { status: 202, body: { status: 'accepted', admissionId, duplicate: false } });
      const result = await client.run(request, async ({ admission }) => {
        expect(admission.admissionId).toBe(admissionId);
        return { meters: { video_seconds: 8 }, gpuSeconds: 40, value: 'video.mp4' };
      });
      expect(result).toMatchObject({ decision: 'admitted', value: 'video.mp4', completion: { status: 'accepted' } });
      expect(server.received[1]).toMatchObject({
        path: `/v1/admissions/${admissionId}/complete`,
        body: { admissionId, requestId: 'req-42', accountId: 'acct-7', userId: 'u-1', model: 'sora-2', endpoint: 'video.generate', status: 'succeeded', meters: { video_seconds: 8 }, dimensions: { resolution: '1080p' }, gpuSeconds: 40 },
      });
    });

    it('when the job throws, completes as cancelled with the meters it last reported, and rethrows the same error', async () => {
      server.script(
        { status: 200, body: admitted },
        { status: 200, body: { decision: 'continue', heldCredits: 120 } },
        { status: 202, body: { status: 'accepted', admissionId, duplicate: false } },
      );
      const boom = new Error('GPU fell over');
      const error = await client
        .run(request, async ({ progress }) => {
          await progress({ video_seconds: 3 });
          throw boom;
        })
        .catch((e: unknown) => e);
      expect(error).toBe(boom);
      expect(server.received.map((r) => r.path)).toEqual(['/v1/admissions', `/v1/admissions/${admissionId}/progress`, `/v1/admissions/${admissionId}/complete`]);
      expect(server.received[2]!.body).toMatchObject({ status: 'cancelled', meters: { video_seconds: 3 } });
    });

    it('when the job throws before reporting anything, completes as cancelled with no meters (nothing charged)', async () => {
      server.script({ status: 200, body: admitted }, { status: 202, body: { status: 'accepted', admissionId, duplicate: false } });
      await expect(client.run(request, async () => Promise.reject(new Error('no')))).rejects.toThrow('no');
      expect(server.received[1]!.body).toMatchObject({ status: 'cancelled', meters: {} });
    });

    it('when rejected, does not run the job and returns the rejection', async () => {
      server.script({ status: 429, body: rateLimited });
      let ran = false;
      const result = await client.run(request, async () => {
        ran = true;
        return { meters: {}, value: 1 };
      });
      expect(ran).toBe(false);
      expect(result).toMatchObject({ decision: 'rejected', reason: 'rate_limited' });
      expect(server.received).toHaveLength(1);
    });
  });

  describe('ledger', () => {
    it('balance and events (paged through by allEvents)', async () => {
      const balance = { accountId: 'acct-7', plan: 'pro', balanceCredits: 1000, heldCredits: 0, availableCredits: 1000, grants: [], version: 3, asOf: null };
      const event = (version: number) => ({ version, type: 'ledger.credits_granted', id: `e${version}`, occurredAt: '2026-12-04T12:00:00.000Z', data: {} });
      server.script(
        { status: 200, body: balance },
        { status: 200, body: { accountId: 'acct-7', events: [event(1), event(2)], nextAfterVersion: 2 } },
        { status: 200, body: { accountId: 'acct-7', events: [event(3)], nextAfterVersion: 3 } },
        { status: 200, body: { accountId: 'acct-7', events: [], nextAfterVersion: 3 } },
      );
      expect(await client.balance('acct-7')).toEqual(balance);
      const versions: number[] = [];
      for await (const e of client.allEvents('acct-7', { pageSize: 2 })) versions.push(e.version);
      expect(versions).toEqual([1, 2, 3]);
      expect(server.received.map((r) => `${r.method} ${r.path}`)).toEqual([
        'GET /v1/accounts/acct-7/balance',
        'GET /v1/accounts/acct-7/events?afterVersion=0&limit=2',
        'GET /v1/accounts/acct-7/events?afterVersion=2&limit=2',
        'GET /v1/accounts/acct-7/events?afterVersion=3&limit=2',
      ]);
    });

    it('openAccount and grant: created or already there, retried when the ledger is not ready, 409 typed', async () => {
      const balance = { accountId: 'acct-7', plan: 'pro', balanceCredits: 0, heldCredits: 0, availableCredits: 0, grants: [], version: 1, asOf: null };
      const grant = { grantId: 'g-1', credits: 500, source: 'purchase' as const };
      const recorded = { accountId: 'acct-7', ...grant, priority: 40, effectiveAt: 't', expiresAt: null, recordedAt: 't' };
      server.script(
        { status: 201, body: balance },
        { status: 200, body: balance },
        { status: 503, body: {} },
        { status: 201, body: recorded },
        { status: 200, body: recorded },
        { status: 409, body: { type: 't', title: 'Conflict', status: 409, detail: 'g-1 has another body', code: 'LEDGER.CONFLICT' } },
      );
      expect(await client.openAccount('acct-7', 'pro')).toMatchObject({ plan: 'pro', created: true });
      expect(await client.openAccount('acct-7', 'pro')).toMatchObject({ created: false });
      expect(await client.grant('acct-7', grant)).toMatchObject({ grantId: 'g-1', created: true });
      expect(await client.grant('acct-7', grant)).toMatchObject({ grantId: 'g-1', created: false });
      await expect(client.grant('acct-7', { ...grant, credits: 1 })).rejects.toMatchObject({ status: 409, code: 'LEDGER.CONFLICT' });
      expect(server.received.map((r) => `${r.method} ${r.path}`)).toEqual([
        'PUT /v1/accounts/acct-7', 'PUT /v1/accounts/acct-7',
        'POST /v1/accounts/acct-7/grants', 'POST /v1/accounts/acct-7/grants', 'POST /v1/accounts/acct-7/grants', 'POST /v1/accounts/acct-7/grants',
      ]);
      expect(server.received[0]!.body).toEqual({ plan: 'pro' });
    });

    it('404 from the ledger is AccessApiError; without ledgerUrl, ledger reads are a configuration error', async () => {
      server.script({ status: 404, body: { type: 't', title: 'Not Found', status: 404, detail: 'no account', code: 'LEDGER.ACCOUNT_NOT_FOUND' } });
      await expect(client.balance('nobody')).rejects.toMatchObject({ status: 404, code: 'LEDGER.ACCOUNT_NOT_FOUND' });
      const admissionOnly = new AccessClient({ admissionUrl: server.url, token: 'acc_test' });
      await expect(admissionOnly.balance('acct-7')).rejects.toBeInstanceOf(AccessConfigurationError);
    });
  });

  it('refuses bad options at construction', () => {
    expect(() => new AccessClient({ admissionUrl: 'not a url', token: 't' })).toThrow(/admissionUrl/);
    expect(() => new AccessClient({ admissionUrl: 'ftp://x', token: 't' })).toThrow(/http/);
    expect(() => new AccessClient({ admissionUrl: server.url, token: ' ' })).toThrow(/token/);
    expect(() => new AccessClient({ admissionUrl: server.url, token: 't', retry: { attemptsMax: 0 } })).toThrow(/attemptsMax/);
    expect(() => new AccessClient({ admissionUrl: server.url, token: 't', retry: { totalMsMax: 1e12 } })).toThrow(/totalMsMax/);
  });
});
