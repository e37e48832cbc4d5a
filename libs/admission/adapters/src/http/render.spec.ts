import { describe, expect, it } from 'vitest';
import { goldenEvent, type AdmissionDecidedV1 } from '@access/contracts';
import { durationText, rateLimitHeaders, renderDecision, retryAfterSeconds } from './render';

const admitted = (): AdmissionDecidedV1 => ({
  ...goldenEvent('io.access.admission.decided.v1').data,
  limits: [
    { name: 'user.requests_per_minute', limit: 60, remaining: 41, resetMs: 19_500 },
    { name: 'user.concurrent_requests', limit: 3, remaining: 2, resetMs: 0 },
  ],
});

describe('RateLimit headers', () => {
  it('given the per-user requests limit, then IETF structured fields and x-ratelimit-* describe it', () => {
    expect(rateLimitHeaders(admitted().limits)).toEqual({
      'ratelimit-policy': '"requests";q=60;w=60',
      ratelimit: '"requests";r=41;t=20',
      'x-ratelimit-limit-requests': '60',
      'x-ratelimit-remaining-requests': '41',
      'x-ratelimit-reset-requests': '19.5s',
    });
  });

  it.each([
    [0, '0ms'],
    [250, '250ms'],
    [999.2, '1000ms'],
    [1_000, '1s'],
    [1_500, '1.5s'],
    [60_000, '1m0s'],
    [90_250, '1m30.25s'],
    [360_000, '6m0s'],
  ])('durationText(%d) = %s', (ms, text) => {
    expect(durationText(ms)).toBe(text);
  });

  it.each([
    [1, 1],
    [999, 1],
    [1_000, 1],
    [1_001, 2],
    [15_000, 15],
  ])('Retry-After for %d ms is %d s (rounded up, so retrying then succeeds)', (ms, s) => {
    expect(retryAfterSeconds(ms)).toBe(s);
  });
});

describe('renderDecision', () => {
  it.each([
    ['rate_limited', 429, 'ADMISSION.RATE_LIMITED'],
    ['concurrency_limited', 429, 'ADMISSION.CONCURRENCY_LIMITED'],
    ['load_shed', 429, 'ADMISSION.LOAD_SHED'],
    ['insufficient_credits', 402, 'ADMISSION.INSUFFICIENT_CREDITS'],
  ] as const)('given a %s rejection, then %i %s as problem+json with RateLimit headers', (reason, status, code) => {
    const event: AdmissionDecidedV1 = { ...admitted(), decision: 'rejected', reason, fundedBy: [], heldCredits: 0, reservationExpiresAt: null, retryAfterMs: reason === 'insufficient_credits' ? null : 2_500, availableCredits: 10 };
    const answer = renderDecision(event);
    expect(answer.status).toBe(status);
    expect(answer.headers['content-type']).toBe('application/problem+json');
    expect(answer.headers['ratelimit']).toBe('"requests";r=41;t=20');
    expect(answer.headers['retry-after']).toBe(status === 429 ? '3' : undefined);
    expect(answer.body).toMatchObject({ status, code, decision: 'rejected', reason });
  });

  it('given an admission, then 200 with the contract fields', () => {
    const answer = renderDecision(admitted());
    expect(answer.status).toBe(200);
    expect(Object.keys(answer.body)).toEqual(expect.arrayContaining(['decision', 'admissionId', 'requestId', 'estimatedCredits', 'fundedBy', 'reservationExpiresAt', 'priceBookVersion', 'limits']));
  });
});
