import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AnswerCodec, recordDecidedAtMs, recordFingerprint } from './answer-codec';
import type { DecisionAnswer } from './decision-answer';
import { digest64 } from './fingerprint';

// Any number the contract's fields may carry, and the awkward ones: fractions, negatives, huge, -0.
const numberArb = fc.oneof(fc.nat({ max: 1_000 }), fc.integer({ min: -1e6, max: 1e6 }), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom(0, -0, 2 ** 48, 2 ** 53 - 1, 0.1, 1.7));
const timeArb = fc.integer({ min: Date.parse('2000-01-01T00:00:00.000Z'), max: Date.parse('2200-01-01T00:00:00.000Z') });
const nameArb = fc.constantFrom('user.requests_per_minute', 'user.concurrent_requests', 'account.credits_per_minute', 'allowance.video.5h', 'allowance.code.7d', 'x');
const answerArb: fc.Arbitrary<DecisionAnswer> = fc.record({
  admissionId: fc.uuid({ version: 7 }),
  requestId: fc.string({ minLength: 1, maxLength: 128 }),
  plan: fc.constantFrom('free', 'plus', 'pro', 'enterprise', 'payg', 'a-plan-from-a-newer-plans.yaml'),
  decision: fc.constantFrom('admitted', 'rejected'),
  reason: fc.constantFrom(null, 'rate_limited', 'concurrency_limited', 'load_shed', 'insufficient_credits'),
  decidedBy: fc.constantFrom('protective_limits', 'load_shedding', 'allowance', 'credits'),
  estimatedCredits: numberArb,
  fundedBy: fc.array(
    fc.oneof(
      fc.record({ source: fc.constant('allowance' as const), window: fc.constantFrom('5h', '7d', '30d'), credits: numberArb }),
      fc.record({ source: fc.constant('credits' as const), credits: numberArb }),
    ),
    { maxLength: 8 },
  ),
  heldCredits: numberArb,
  reservationExpiresAt: fc.option(timeArb.map((ms) => new Date(ms).toISOString())),
  limits: fc.array(fc.record({ name: nameArb, limit: numberArb, remaining: numberArb, resetMs: numberArb }), { maxLength: 16 }),
  multipliers: fc.oneof(fc.constant({ load: 1, reputation: 1 }), fc.record({ load: fc.double({ min: 0, max: 4, noNaN: true }), reputation: fc.double({ min: 0.5, max: 1.5, noNaN: true }) })),
  priceBookVersion: fc.constantFrom('2026-11-01', '2026-12-01'),
  retryAfterMs: fc.option(numberArb),
  availableCredits: fc.option(numberArb),
  decidedAt: timeArb.map((ms) => new Date(ms).toISOString()),
});

describe('AnswerCodec', () => {
  it('gives back exactly what it packed: equal values, the same JSON, and the fingerprint and time readable without decoding', () => {
    const codec = new AnswerCodec();
    fc.assert(
      fc.property(answerArb, fc.string(), fc.nat(), (answer, body, seed) => {
        const fingerprint = digest64(body, seed);
        const record = codec.encode(fingerprint, answer);
        const back = codec.decode(record, answer.requestId);
        expect(back).toEqual(answer);
        expect(JSON.stringify(back)).toBe(JSON.stringify(answer));
        expect(recordFingerprint(record)).toBe(fingerprint);
        expect(recordDecidedAtMs(record)).toBe(Date.parse(answer.decidedAt));
      }),
      { numRuns: 5_000 },
    );
  });

  it('packs a typical admission with five limits into about a hundred bytes, one byte per character', () => {
    const codec = new AnswerCodec();
    const record = codec.encode(digest64('body', 1), {
      admissionId: '019ab2c3-d4e5-7f00-8123-456789abcdef',
      requestId: 'req-1',
      plan: 'plus',
      decision: 'admitted',
      reason: null,
      decidedBy: 'credits',
      estimatedCredits: 150,
      fundedBy: [
        { source: 'allowance', window: '5h', credits: 100 },
        { source: 'credits', credits: 50 },
      ],
      heldCredits: 50,
      reservationExpiresAt: '2026-11-25T10:30:00.000Z',
      limits: [
        { name: 'user.requests_per_minute', limit: 60, remaining: 41, resetMs: 19_500 },
        { name: 'user.concurrent_requests', limit: 3, remaining: 2, resetMs: 0 },
        { name: 'account.credits_per_minute', limit: 6_000, remaining: 5_850, resetMs: 1_500 },
        { name: 'allowance.video.5h', limit: 500, remaining: 0, resetMs: 3_600_000 },
        { name: 'allowance.video.7d', limit: 2_000, remaining: 1_400, resetMs: 86_400_000 },
      ],
      multipliers: { load: 1, reputation: 1 },
      priceBookVersion: '2026-11-01',
      retryAfterMs: null,
      availableCredits: 1_000,
      decidedAt: '2026-11-25T10:00:00.000Z',
    });
    expect(record.length).toBeLessThan(110);
    expect(Buffer.byteLength(record, 'latin1')).toBe(record.length);
  });

  it.each([
    ['a time that is not canonical', { decidedAt: '2026-11-25T10:00:00Z' }],
    ['an uppercase admissionId', { admissionId: '019AB2C3-D4E5-7F00-8123-456789ABCDEF' }],
  ])('refuses %s, which it could not give back byte for byte', (_name, change) => {
    const codec = new AnswerCodec();
    const base: DecisionAnswer = {
      admissionId: '019ab2c3-d4e5-7f00-8123-456789abcdef',
      requestId: 'r',
      plan: 'payg',
      decision: 'rejected',
      reason: 'load_shed',
      decidedBy: 'load_shedding',
      estimatedCredits: 1,
      fundedBy: [],
      heldCredits: 0,
      reservationExpiresAt: null,
      limits: [],
      multipliers: { load: 0, reputation: 1 },
      priceBookVersion: 'v',
      retryAfterMs: 1_000,
      availableCredits: null,
      decidedAt: '2026-11-25T10:00:00.000Z',
    };
    expect(() => codec.encode(digest64('b', 0), { ...base, ...change })).toThrow();
  });
});
