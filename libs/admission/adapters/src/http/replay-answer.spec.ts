import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AdmissionService, ManualClock, MemorySink, sequentialIds, type AdmissionInput, type AdmitOutcome } from '@access/admission-application';
import { parseCatalog, type Catalog } from '@access/catalog';
import type { AdmissionDecidedV1 } from '@access/contracts';
import { renderAdmitOutcome } from './render';

function shippedCatalog(): Catalog {
  const root = join(__dirname, '..', '..', '..', '..', '..');
  const r = parseCatalog(readFileSync(join(root, 'config', 'plans.yaml'), 'utf8'), readFileSync(join(root, 'config', 'price-book.yaml'), 'utf8'));
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.value;
}
const catalog = shippedCatalog();

function newService(clock: ManualClock): { service: AdmissionService; sink: MemorySink } {
  const sink = new MemorySink();
  const service = new AdmissionService({ catalog, sink, clock, ids: sequentialIds(clock) });
  service.finishReplay();
  return { service, sink };
}

/** The bytes a caller receives: status line, headers (sorted, as a client sees a set), body as serialized. */
const wire = (o: AdmitOutcome): string => {
  const a = renderAdmitOutcome(o);
  const headers = Object.entries(a.headers).sort(([x], [y]) => (x < y ? -1 : 1));
  return `${a.status}\n${headers.map(([k, v]) => `${k}: ${v}`).join('\n')}\n\n${JSON.stringify(a.body)}`;
};

const PLANS = ['free', 'plus', 'pro', 'enterprise', 'payg'] as const;
const stepArb = fc.record({
  plan: fc.constantFrom(...PLANS),
  user: fc.constantFrom('u-1', 'u-2'),
  model: fc.constantFrom('sora-2', 'codex-1'),
  priority: fc.constantFrom('critical', 'standard', 'batch'),
  amount: fc.integer({ min: 0, max: 400 }),
  credits: fc.integer({ min: -50, max: 3_000 }),
  load: fc.constantFrom(0, 0.5, 1, 1.7, 4),
  reputation: fc.constantFrom(0.5, 0.8, 1, 1.25, 1.5),
  gapMs: fc.integer({ min: 0, max: 5_000 }),
});

type Step = typeof stepArb extends fc.Arbitrary<infer T> ? T : never;

function inputOf(s: Step, i: number): AdmissionInput {
  return {
    requestId: `req-${i}`,
    accountId: `acct-${s.plan}`,
    userId: s.user,
    model: s.model,
    endpoint: s.model === 'sora-2' ? 'video.generate' : 'code.complete',
    priority: s.priority,
    estimate:
      s.model === 'sora-2'
        ? { meters: { video_seconds: s.amount / 10 }, dimensions: { resolution: '1080p' } }
        : { meters: { input_tokens: s.amount * 1_000, output_tokens: s.amount * 500 }, dimensions: {} },
  };
}

describe('an idempotent replay answers byte for byte what the first decision answered', () => {
  it('on the deciding replica (packed answer) and on a replica or restart that read the decision from the log, for every branch of the waterfall', async () => {
    const seen = new Set<string>();
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 30 }), async (steps) => {
        const clock = new ManualClock();
        const { service, sink } = newService(clock);
        // Another replica (or this one after a restart) that knows the decisions only from access.admissions.v1.
        const { service: reader } = newService(clock);
        const firsts: { input: AdmissionInput; wire: string }[] = [];
        let version = 1;
        for (const [i, s] of steps.entries()) {
          clock.advance(s.gapMs);
          const accountId = `acct-${s.plan}`;
          service.applyBalance({ accountId, version: version++, balanceCredits: s.credits, heldCredits: 0, availableCredits: s.credits, plan: s.plan, occurredAt: new Date(clock.now).toISOString() });
          service.applyLimits({ model: s.model, plan: s.plan, priority: s.priority, multiplier: s.load, reason: 'test', inputs: {} });
          service.applyReputation({ accountId, userId: s.user, factor: s.reputation, signals: {} });
          const input = inputOf(s, i);
          const first = await service.admit(input);
          if (first.kind !== 'decided') continue;
          expect(first.replayed).toBe(false);
          seen.add(first.event.decision === 'admitted' ? `admitted:${first.event.decidedBy}` : `rejected:${first.event.reason}`);
          firsts.push({ input, wire: wire(first) });
        }
        for (const d of sink.decisions) reader.applyDecided(JSON.parse(JSON.stringify(d)) as AdmissionDecidedV1);
        clock.advance(60_000);
        for (const f of firsts) {
          // A retry's body may list meters and dimensions in another order: still the same request.
          const reordered = { ...f.input, estimate: { meters: Object.fromEntries(Object.entries(f.input.estimate.meters).reverse()), dimensions: f.input.estimate.dimensions } };
          const again = await service.admit(reordered);
          expect(again.kind === 'decided' && again.replayed).toBe(true);
          expect(wire(again)).toBe(f.wire);
          const there = await reader.admit(f.input);
          expect(there.kind === 'decided' && there.replayed).toBe(true);
          expect(wire(there)).toBe(f.wire);
        }
      }),
      { numRuns: 300 },
    );
    // The generator reached every outcome, so the property covered each branch of render.ts.
    for (const branch of ['admitted:allowance', 'admitted:credits', 'rejected:rate_limited', 'rejected:concurrency_limited', 'rejected:load_shed', 'rejected:insufficient_credits']) {
      expect(seen, branch).toContain(branch);
    }
  });

  it('and a different body under the same requestId is 409 naming the first admissionId, on both', async () => {
    const clock = new ManualClock();
    const { service, sink } = newService(clock);
    const { service: reader } = newService(clock);
    service.applyBalance({ accountId: 'acct-1', version: 1, balanceCredits: 500, heldCredits: 0, availableCredits: 500, plan: 'payg', occurredAt: new Date(clock.now).toISOString() });
    const input: AdmissionInput = { requestId: 'req-1', accountId: 'acct-1', userId: 'u-1', model: 'sora-2', endpoint: 'video.generate', priority: 'standard', estimate: { meters: { video_seconds: 5 }, dimensions: { resolution: '720p' } } };
    const first = await service.admit(input);
    if (first.kind !== 'decided') throw new Error(first.kind);
    reader.applyDecided(sink.decisions[0] as AdmissionDecidedV1);
    const other = { ...input, estimate: { ...input.estimate, meters: { video_seconds: 6 } } };
    for (const s of [service, reader]) {
      const answer = renderAdmitOutcome(await s.admit(other));
      expect(answer.status).toBe(409);
      expect(answer.body).toMatchObject({ code: 'ADMISSION.REQUEST_ID_CONFLICT', requestId: 'req-1', admissionId: first.event.admissionId });
    }
  });
});
