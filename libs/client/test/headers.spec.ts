/** RateLimit headers as RFC 9651 structured fields, Retry-After, and the backoff arithmetic. */
import fc from 'fast-check';
import { Token, serializeList, type Item } from 'structured-headers';
import { describe, expect, it } from 'vitest';
import { parseRateLimitHeaders, retryAfterMs } from '../src';
import { backoffMs, defaultRetry } from '../src/retry';

const parse = (policy: string | null, state: string | null) => parseRateLimitHeaders((name) => (name === 'ratelimit-policy' ? policy : name === 'ratelimit' ? state : null));

describe('parseRateLimitHeaders', () => {
  it.each([
    ['what admission sends', '"requests";q=60;w=60', '"requests";r=41;t=20', { policies: [{ name: 'requests', quota: 60, windowSeconds: 60 }], limits: [{ name: 'requests', remaining: 41, resetSeconds: 20 }] }],
    ['a token name, no window or reset', 'requests;q=5', 'requests;r=0', { policies: [{ name: 'requests', quota: 5 }], limits: [{ name: 'requests', remaining: 0 }] }],
    ['several policies, whitespace, unknown parameters kept out', '"day";q=1000;w=86400, "burst";q=10;w=1;pk=:AAE=:', '"burst";r=9;t=1;pk=:AAE=:', {
      policies: [{ name: 'day', quota: 1000, windowSeconds: 86400 }, { name: 'burst', quota: 10, windowSeconds: 1 }],
      limits: [{ name: 'burst', remaining: 9, resetSeconds: 1 }],
    }],
    ['absent', null, null, { policies: [], limits: [] }],
    ['empty', '', '  ', { policies: [], limits: [] }],
    ['not a structured field', 'requests=60; window=60', '"requests";r=', { policies: [], limits: [] }],
    ['the old draft dictionary form', 'limit=60, remaining=41', 'remaining=41', { policies: [], limits: [] }],
    ['members without the required parameter are skipped', '"a";w=60, "b";q=2', '"a";t=1, "b";r=1', { policies: [{ name: 'b', quota: 2 }], limits: [{ name: 'b', remaining: 1 }] }],
    ['negative, decimal or string quotas are skipped', '"a";q=-1, "b";q=1.5, "c";q="7"', '"a";r=-3', { policies: [], limits: [] }],
    ['an inner list is not a policy', '("a" "b");q=1', '("a");r=1', { policies: [], limits: [] }],
    ['a number is not a policy name', '5;q=1', '5;r=1', { policies: [], limits: [] }],
  ])('%s', (_name, policy, state, expected) => {
    expect(parse(policy, state)).toEqual(expected);
  });

  it('reads back whatever a conforming server serializes (property)', () => {
    const name = fc.stringMatching(/^[a-z][a-z0-9_-]{0,15}$/);
    const count = fc.integer({ min: 0, max: 1_000_000 });
    fc.assert(
      fc.property(fc.array(fc.record({ name, q: count, w: fc.option(count, { nil: undefined }), asToken: fc.boolean() }), { maxLength: 5 }), (policies) => {
        const items: Item[] = policies.map((p) => [p.asToken ? new Token(p.name) : p.name, new Map<string, number>([['q', p.q], ...(p.w === undefined ? [] : [['w', p.w] as [string, number]])])]);
        const header = serializeList(items);
        expect(parse(header, null).policies).toEqual(policies.map((p) => (p.w === undefined ? { name: p.name, quota: p.q } : { name: p.name, quota: p.q, windowSeconds: p.w })));
      }),
      { seed: 9651, numRuns: 300 },
    );
  });

  it('never throws on arbitrary header text (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), fc.string({ maxLength: 80 }), (a, b) => {
        const result = parse(a, b);
        expect(Array.isArray(result.policies) && Array.isArray(result.limits)).toBe(true);
      }),
      { seed: 1, numRuns: 1_000 },
    );
  });
});

describe('retryAfterMs', () => {
  const now = Date.parse('2026-12-04T12:00:00.000Z');
  it.each([
    ['3', 3_000],
    [' 0 ', 0],
    ['Fri, 04 Dec 2026 12:00:05 GMT', 5_000],
    ['Fri, 04 Dec 2026 11:59:00 GMT', 0],
    ['-1', undefined],
    ['1.5', undefined],
    ['soon', undefined],
    ['2026', 2_026_000],
    ['2026-12-04', undefined],
    [null, undefined],
  ])('%j → %j', (value, expected) => {
    expect(retryAfterMs(value, now)).toBe(expected);
  });
});

describe('backoffMs', () => {
  it('is a share of an exponential ceiling capped at maxDelayMs, and never below Retry-After (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.double({ min: 0, max: 0.999_999, noNaN: true }), fc.option(fc.integer({ min: 0, max: 120_000 }), { nil: undefined }), (attempt, random, hint) => {
        const wait = backoffMs(defaultRetry, attempt, random, hint);
        const ceiling = Math.min(defaultRetry.maxDelayMs, defaultRetry.baseDelayMs * 2 ** (attempt - 1));
        expect(wait).toBeGreaterThanOrEqual(hint ?? 0);
        expect(wait).toBeLessThanOrEqual(Math.max(ceiling, hint ?? 0));
      }),
      { seed: 42, numRuns: 2_000 },
    );
  });
});
