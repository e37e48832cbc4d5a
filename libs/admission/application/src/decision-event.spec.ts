import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { admissionDecidedV1Schema, type AdmissionDecidedV1 } from '@access/contracts';
import type { AdmissionInput } from './admission-service';
import { completionOf, newService, openAccount, video } from './spec-support';

const PLANS = ['free', 'plus', 'pro', 'enterprise', 'payg'] as const;

const stepArb = fc.record({
  plan: fc.constantFrom(...PLANS),
  user: fc.constantFrom('u-1', 'u-2'),
  model: fc.constantFrom('sora-2', 'codex-1'),
  priority: fc.constantFrom('critical', 'standard', 'batch'),
  amount: fc.integer({ min: 0, max: 400 }),
  credits: fc.integer({ min: -50, max: 3_000 }),
  load: fc.constantFrom(0, 0.5, 1, 1.7, 4),
  reputation: fc.constantFrom(0.5, 1, 1.25, 1.5),
  complete: fc.boolean(),
  gapMs: fc.integer({ min: 0, max: 5_000 }),
});

describe('admission.decided built from decisions', () => {
  it('passes the contract schema on every branch of the waterfall (admitted by allowance or credits, every rejection)', async () => {
    const seen = new Set<string>();
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 40 }), async (steps) => {
        const { service, sink, clock } = newService();
        let version = 1;
        for (const s of steps) {
          clock.advance(s.gapMs);
          const accountId = `acct-${s.plan}`;
          openAccount(service, accountId, s.plan, s.credits, version++);
          service.applyLimits({ model: s.model, plan: s.plan, priority: s.priority, multiplier: s.load, reason: 'test', inputs: {} });
          service.applyReputation({ accountId, userId: s.user, factor: s.reputation, signals: {} });
          const estimate: AdmissionInput['estimate'] =
            s.model === 'sora-2'
              ? { meters: { video_seconds: s.amount / 10 }, dimensions: { resolution: '1080p' } }
              : { meters: { input_tokens: s.amount * 1_000, output_tokens: s.amount * 500 }, dimensions: {} };
          const o = await service.admit({ ...video({ accountId, userId: s.user, priority: s.priority }), model: s.model, estimate });
          if (o.kind === 'decided' && !o.replayed && o.event.decision === 'admitted' && s.complete && s.model === 'sora-2') {
            await service.complete(completionOf(o.event, s.amount / 20));
          }
        }
        for (const event of sink.decisions) {
          const parsed = admissionDecidedV1Schema.safeParse(event);
          if (!parsed.success) throw new Error(`${JSON.stringify(event)}\n${parsed.error.message}`);
          expect(parsed.data).toEqual(event);
          seen.add(`${event.decision}:${event.reason ?? event.decidedBy}`);
        }
      }),
      { numRuns: 200 },
    );
    expect([...seen].sort()).toEqual([
      'admitted:allowance',
      'admitted:credits',
      'rejected:concurrency_limited',
      'rejected:insufficient_credits',
      'rejected:load_shed',
      'rejected:rate_limited',
    ]);
  });

  it('records the estimate, the latency and the time as the contract names them', async () => {
    const { service, sink } = newService();
    openAccount(service, 'acct-1', 'payg', 100);
    await service.admit(video({ seconds: 2 }));
    const event = sink.decisions[0] as AdmissionDecidedV1;
    expect(event.estimate).toEqual({ meters: { video_seconds: 2 }, dimensions: { resolution: '720p' } });
    expect(event.decisionLatencyUs).toBeGreaterThanOrEqual(0);
    expect(event.decidedAt).toBe('2026-11-25T10:00:00.000Z');
    expect(event.reservationExpiresAt).toBe('2026-11-25T10:30:00.000Z');
  });
});
