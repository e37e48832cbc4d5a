import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defaultFeedbackConfig } from '../default-config';
import { reputationFactor, scoreReputation, type ReputationSignals } from './reputation';

const config = defaultFeedbackConfig.reputation;
const hour = 3_600_000;
const day = 24 * hour;

const steady: ReputationSignals = {
  requests: 5000,
  successRatio: 0.99,
  rejectionRatio: 0.01,
  failureRatio: 0.01,
  burstiness: 1.5,
  overshootCredits: 0,
  activeDays: 7,
};
const abusive: ReputationSignals = { ...steady, rejectionRatio: 0.6, burstiness: 15 };
const noEvidence: ReputationSignals = { ...steady, requests: 3 };

const anySignals: fc.Arbitrary<ReputationSignals> = fc.record({
  requests: fc.oneof(fc.integer({ min: 0, max: 1_000_000 }), fc.constant(Number.NaN)),
  successRatio: fc.double({ min: -1, max: 2 }),
  rejectionRatio: fc.double({ min: -1, max: 2 }),
  failureRatio: fc.double({ min: -1, max: 2 }),
  burstiness: fc.double({ min: -5, max: 100 }),
  overshootCredits: fc.double({ min: -1e6, max: 1e7 }),
  activeDays: fc.double({ min: -3, max: 10 }),
});
const anyFactor = fc.oneof(fc.double({ min: -10, max: 10 }), fc.constant(Number.NaN), fc.constant(Number.POSITIVE_INFINITY));
const anyElapsed = fc.oneof(fc.integer({ min: -day, max: 60 * day }), fc.constant(Number.NaN));
const sensibleSignals: fc.Arbitrary<ReputationSignals> = fc.record({
  requests: fc.integer({ min: 0, max: 100_000 }),
  successRatio: fc.double({ min: 0, max: 1, noNaN: true }),
  rejectionRatio: fc.double({ min: 0, max: 1, noNaN: true }),
  failureRatio: fc.double({ min: 0, max: 1, noNaN: true }),
  burstiness: fc.double({ min: 1, max: 50, noNaN: true }),
  overshootCredits: fc.double({ min: 0, max: 1e5, noNaN: true }),
  activeDays: fc.integer({ min: 0, max: 7 }),
});

describe('reputationFactor', () => {
  it('stays within [0.5, 1.5] for any signals, previous factor and elapsed time, even nonsense (property)', () => {
    fc.assert(
      fc.property(anySignals, anyFactor, anyElapsed, (signals, previous, elapsed) => {
        const factor = reputationFactor(signals, previous, elapsed);
        expect(factor).toBeGreaterThanOrEqual(0.5);
        expect(factor).toBeLessThanOrEqual(1.5);
      }),
    );
  });

  it('with no evidence, decays towards 1 monotonically and never crosses it (property)', () => {
    fc.assert(
      fc.property(fc.double({ min: 0.5, max: 1.5, noNaN: true }), fc.integer({ min: 0, max: 30 * day }), fc.integer({ min: 0, max: 30 * day }), (previous, a, b) => {
        const [shorter, longer] = a <= b ? [a, b] : [b, a];
        const early = reputationFactor(noEvidence, previous, shorter);
        const late = reputationFactor(noEvidence, previous, longer);
        expect(Math.abs(late - 1)).toBeLessThanOrEqual(Math.abs(early - 1) + 1e-12);
        expect(Math.abs(early - 1)).toBeLessThanOrEqual(Math.abs(previous - 1) + 1e-12);
        expect(Math.sign(late - 1) * Math.sign(previous - 1)).toBeGreaterThanOrEqual(0);
      }),
    );
    expect(reputationFactor(noEvidence, 1.5, 30 * day)).toBeCloseTo(1, 6);
    expect(reputationFactor(noEvidence, 0.5, 30 * day)).toBeCloseTo(1, 6);
  });

  it('moves from the previous factor towards the target without overshooting it (property)', () => {
    fc.assert(
      fc.property(sensibleSignals, fc.double({ min: 0.5, max: 1.5, noNaN: true }), fc.integer({ min: 0, max: 10 * day }), (signals, previous, elapsed) => {
        const { target } = scoreReputation(signals);
        const factor = reputationFactor(signals, previous, elapsed);
        expect(factor).toBeGreaterThanOrEqual(Math.min(previous, target) - 1e-12);
        expect(factor).toBeLessThanOrEqual(Math.max(previous, target) + 1e-12);
      }),
    );
  });

  it('never rewards more rejections, failures, bursts or overshoot (property)', () => {
    const worse = fc.constantFrom('rejectionRatio', 'failureRatio', 'burstiness', 'overshootCredits') ;
    fc.assert(
      fc.property(sensibleSignals, worse, fc.double({ min: 0, max: 1, noNaN: true }), (signals, field, amount) => {
        const increase = field === 'overshootCredits' ? amount * 20_000 : field === 'burstiness' ? amount * 20 : amount;
        const bad = { ...signals, [field]: Math.min(field.endsWith('Ratio') ? 1 : Infinity, signals[field] + increase) };
        expect(scoreReputation(bad).target).toBeLessThanOrEqual(scoreReputation(signals).target + 1e-12);
      }),
    );
  });

  it('returns the previous factor when no time has passed', () => {
    expect(reputationFactor(abusive, 1.2, 0)).toBe(1.2);
  });

  describe('given steady successful usage', () => {
    it('earns burst above 1, slowly (a day is one half-life)', () => {
      const afterDay = reputationFactor(steady, 1, day);
      const target = scoreReputation(steady).target;
      expect(target).toBeGreaterThan(1.3);
      expect(afterDay).toBeCloseTo(1 + (target - 1) / 2, 6);
      expect(reputationFactor(steady, 1, 10 * day)).toBeCloseTo(target, 2);
    });
  });

  describe('given abuse', () => {
    it.each([
      { name: 'a high rejection ratio', signals: { ...steady, rejectionRatio: 0.6 } },
      { name: 'bursts', signals: { ...steady, burstiness: 20 } },
      { name: 'failures', signals: { ...steady, successRatio: 0.6, failureRatio: 0.4 } },
      { name: 'large overshoot', signals: { ...steady, overshootCredits: 50_000 } },
    ])('$name tightens below 1 within an hour', ({ signals }) => {
      expect(scoreReputation(signals).target).toBeLessThan(1);
      expect(reputationFactor(signals, 1, hour)).toBeLessThan(0.95);
    });

    it('takes earned burst away quickly', () => {
      expect(reputationFactor(abusive, 1.5, hour)).toBeLessThan(1);
    });
  });

  it('scores too few requests as no evidence', () => {
    expect(scoreReputation({ ...abusive, requests: config.minRequests - 1 })).toMatchObject({ target: 1, evidence: false });
  });
});
