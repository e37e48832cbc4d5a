import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defaultFeedbackConfig, type ReputationSignals } from '@access/load-feedback-domain';
import { ReputationJob, planReputation, type UserReputation, type UserSignals } from './reputation-job';

const config = defaultFeedbackConfig.reputation;
const hour = 3_600_000;
const steady: ReputationSignals = { requests: 5_000, successRatio: 1, rejectionRatio: 0, failureRatio: 0, burstiness: 1.2, overshootCredits: 0, activeDays: 7 };
const abusive: ReputationSignals = { requests: 5_000, successRatio: 0.4, rejectionRatio: 0.8, failureRatio: 0.5, burstiness: 20, overshootCredits: 50_000, activeDays: 2 };
const row = (userId: string, signals: ReputationSignals): UserSignals => ({ accountId: 'acct-1', userId, signals });

describe('planReputation', () => {
  it('given an abusive user, publishes a factor below 1 with the signals and the penalties', () => {
    const { updates, next } = planReputation({ rows: [row('u-bad', abusive)], known: new Map(), nowMs: 10 * hour, intervalMs: hour, config });
    expect(updates).toHaveLength(1);
    expect(updates[0]!.factor).toBeLessThan(1);
    expect(updates[0]!.factor).toBeGreaterThanOrEqual(0.5);
    expect(updates[0]!.signals).toMatchObject({ requests: 5_000, rejectionRatio: 0.8, previousFactor: 1 });
    expect(updates[0]!.signals.penaltyRejection).toBeGreaterThan(0);
    expect(next.get('acct-1|u-bad')).toMatchObject({ publishedFactor: updates[0]!.factor });
  });

  it('does not publish a change smaller than the minimum, and keeps moving from the computed factor', () => {
    // A steady user earns burst over a day: one minute's move is below 0.01.
    const first = planReputation({ rows: [row('u-1', steady)], known: new Map(), nowMs: 60_000, intervalMs: 60_000, config });
    expect(first.updates).toEqual([]);
    expect(first.next.get('acct-1|u-1')!.factor).toBeGreaterThan(1);
    expect(first.next.get('acct-1|u-1')!.publishedFactor).toBe(1);
    // Hours later it has moved enough to be published.
    const later = planReputation({ rows: [row('u-1', steady)], known: first.next, nowMs: 6 * hour, intervalMs: 60_000, config });
    expect(later.updates).toHaveLength(1);
    expect(later.updates[0]!.factor).toBeGreaterThan(1.01);
  });

  it('decays a user who went quiet back to exactly 1, publishes that, and forgets the user', () => {
    const known = new Map<string, UserReputation>([['acct-1|u-quiet', { factor: 0.7, atMs: 0, publishedFactor: 0.7 }]]);
    const plan = planReputation({ rows: [], known, nowMs: 30 * 86_400_000, intervalMs: hour, config });
    expect(plan.updates).toEqual([expect.objectContaining({ accountId: 'acct-1', userId: 'u-quiet', factor: 1 })]);
    expect(plan.next.size).toBe(0);
  });

  it('keeps users missing from a truncated read as they are', () => {
    const known = new Map<string, UserReputation>([['acct-1|u-other', { factor: 0.7, atMs: 0, publishedFactor: 0.7 }]]);
    const plan = planReputation({ rows: [], known, nowMs: 30 * 86_400_000, intervalMs: hour, config, complete: false });
    expect(plan.updates).toEqual([]);
    expect(plan.next.get('acct-1|u-other')).toEqual(known.get('acct-1|u-other'));
  });

  it('splits keys on the first separator (ids cannot contain it)', () => {
    const known = new Map<string, UserReputation>([['acct:1|u.2', { factor: 1.4, atMs: 0, publishedFactor: 1.4 }]]);
    const plan = planReputation({ rows: [], known, nowMs: 60 * 86_400_000, intervalMs: hour, config });
    expect(plan.updates[0]).toMatchObject({ accountId: 'acct:1', userId: 'u.2' });
  });

  it('always publishes factors within [factorMin, factorMax] and only changes of at least the minimum', () => {
    const signals = fc.record({
      requests: fc.integer({ min: 0, max: 100_000 }),
      successRatio: fc.double({ min: 0, max: 1, noNaN: true }),
      rejectionRatio: fc.double({ min: 0, max: 1, noNaN: true }),
      failureRatio: fc.double({ min: 0, max: 1, noNaN: true }),
      burstiness: fc.double({ min: 1, max: 100, noNaN: true }),
      overshootCredits: fc.integer({ min: 0, max: 1_000_000 }),
      activeDays: fc.integer({ min: 0, max: 8 }),
    });
    fc.assert(
      fc.property(fc.array(signals, { maxLength: 5 }), fc.integer({ min: 1, max: 10 }), (series, runs) => {
        let known = new Map<string, UserReputation>();
        for (let r = 1; r <= runs; r++) {
          for (const s of series) {
            const plan = planReputation({ rows: [row('u', s)], known, nowMs: r * hour, intervalMs: hour, config });
            for (const u of plan.updates) {
              expect(u.factor).toBeGreaterThanOrEqual(config.factorMin);
              expect(u.factor).toBeLessThanOrEqual(config.factorMax);
              const before = known.get('acct-1|u')?.publishedFactor ?? 1;
              expect(Math.abs(u.factor - before) >= 0.01 || u.factor === 1).toBe(true);
            }
            known = plan.next;
          }
        }
      }),
    );
  });
});

describe('ReputationJob', () => {
  it('remembers a run only once its updates were published, so a failed run is repeated', async () => {
    let fail = true;
    const published: string[] = [];
    const job = new ReputationJob({
      config,
      intervalMs: hour,
      restored: new Map(),
      source: { fetch: async () => [row('u-bad', abusive)] },
      publish: async (updates) => {
        if (fail) throw new Error('broker down');
        published.push(...updates.map((u) => u.userId));
      },
    });
    await expect(job.run(hour)).rejects.toThrow('broker down');
    expect(job.remembered).toBe(0);
    fail = false;
    await expect(job.run(2 * hour)).resolves.toEqual({ rows: 1, published: 1 });
    expect(published).toEqual(['u-bad']);
    expect(job.remembered).toBe(1);
  });
});
