import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AdmissionDecidedV1 } from '@access/contracts';
import type { AdmissionService, AdmitOutcome } from './admission-service';
import type { ReplayItem } from './replay-log';
import { ManualClock, T0, completionOf, newService, openAccount, video } from './spec-support';

const MIN = 60_000;
const ACCOUNTS = [
  ['acct-free', 'free'],
  ['acct-plus', 'plus'],
  ['acct-payg', 'payg'],
] as const;

const stepArb = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('admit' as const), account: fc.constantFrom(0, 1, 2), user: fc.constantFrom('u-1', 'u-2'), seconds: fc.integer({ min: 0, max: 30 }), gapMs: fc.integer({ min: 0, max: 20_000 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('complete' as const), pick: fc.nat(), seconds: fc.integer({ min: 0, max: 40 }), failed: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('reserve' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 40 * MIN }) }) },
);

/** The ledger as admission sees it: versions per account; reserving a hold moves the balance. */
class LedgerModel {
  readonly versions = new Map<string, number>();
  readonly available = new Map<string, number>();
  open(service: AdmissionService, accountId: string, plan: string, credits: number): void {
    this.versions.set(accountId, 1);
    this.available.set(accountId, credits);
    openAccount(service, accountId, plan, credits, 1);
  }
  reserve(accountId: string, held: number): number {
    const version = (this.versions.get(accountId) ?? 0) + 1;
    this.versions.set(accountId, version);
    this.available.set(accountId, (this.available.get(accountId) ?? 0) - held);
    return version;
  }
}

const shuffle = <T>(items: T[], seed: number): T[] => {
  const out = [...items];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1_103_515_245 + 12_345) % 2 ** 31;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
};

const view = (o: AdmitOutcome) =>
  o.kind === 'decided'
    ? { kind: o.kind, replayed: o.replayed, decision: o.event.decision, reason: o.event.reason, fundedBy: o.event.fundedBy, held: o.event.heldCredits, available: o.event.availableCredits, limits: o.event.limits, retry: o.event.retryAfterMs }
    : o;

describe('restart recovery: replaying decisions, completions and reservations, read in any order', () => {
  it('rebuilds a service that decides exactly like the live one, and answers repeated requestIds with their first decision', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { maxLength: 60 }), fc.nat(), fc.array(fc.record({ account: fc.constantFrom(0, 1, 2), user: fc.constantFrom('u-1', 'u-2', 'u-3'), seconds: fc.integer({ min: 0, max: 40 }) }), { minLength: 1, maxLength: 6 }), async (steps, seed, probes) => {
        const clock = new ManualClock(T0);
        const { service: live, sink } = newService({ clock });
        const ledger = new LedgerModel();
        ACCOUNTS.forEach(([id, plan], i) => ledger.open(live, id, plan, 200 * i));
        const replay: ReplayItem[] = [];
        const admitted: AdmissionDecidedV1[] = [];
        const requests = new Map<string, ReturnType<typeof video>>();
        for (const step of steps) {
          if (step.kind === 'admit') {
            clock.advance(step.gapMs);
            const request = video({ accountId: ACCOUNTS[step.account][0], userId: step.user, seconds: step.seconds });
            const o = await live.admit(request);
            if (o.kind === 'decided' && !o.replayed && o.event.decision === 'admitted') {
              admitted.push(o.event);
              requests.set(o.event.requestId, request);
            }
          } else if (step.kind === 'complete' && admitted.length > 0) {
            const event = admitted[step.pick % admitted.length] as AdmissionDecidedV1;
            const completion = completionOf(event, step.seconds, step.failed ? 'failed' : 'succeeded', clock.now);
            const o = await live.complete(completion);
            if (o.kind === 'accepted' && !o.duplicate) replay.push({ kind: 'completed', timeMs: clock.now, data: completion });
          } else if (step.kind === 'reserve' && admitted.length > 0) {
            const event = admitted[step.pick % admitted.length] as AdmissionDecidedV1;
            if (event.heldCredits === 0 || replay.some((r) => r.kind === 'reserved' && r.admissionId === event.admissionId)) continue;
            const version = ledger.reserve(event.accountId, event.heldCredits);
            replay.push({ kind: 'reserved', timeMs: clock.now, admissionId: event.admissionId, version });
            // The reservation and the balance reach admission together (their order across topics is arbitrary).
            live.applyLedgerPosition(event.admissionId, version);
            live.applyBalance({ accountId: event.accountId, version, balanceCredits: 0, heldCredits: 0, availableCredits: ledger.available.get(event.accountId) ?? 0, plan: null, occurredAt: new Date(clock.now).toISOString() });
          } else if (step.kind === 'advance') clock.advance(step.ms);
        }
        for (const d of sink.decisions) replay.push({ kind: 'decided', timeMs: Date.parse(d.decidedAt), data: d });

        // Restart: compacted balances (latest per account) first, then the log in whatever order Kafka hands it out.
        const { service: restarted } = newService({ clock, ready: false });
        ACCOUNTS.forEach(([id, plan], i) => {
          const version = ledger.versions.get(id) ?? 1;
          restarted.applyBalance({ accountId: id, version, balanceCredits: 0, heldCredits: 0, availableCredits: ledger.available.get(id) ?? 200 * i, plan, occurredAt: new Date(T0).toISOString() });
        });
        for (const item of shuffle(replay, seed)) restarted.bufferReplay(item);
        restarted.finishReplay();

        live.state.expire(clock.now); // the live state expires lazily, at its next input
        for (const [id] of ACCOUNTS) expect(restarted.state.account(id)?.availableCredits).toBe(live.state.account(id)?.availableCredits);
        // Repeated requestIds answer with the first decision on both.
        for (const event of admitted.slice(-3)) {
          const request = requests.get(event.requestId);
          if (request === undefined) continue;
          expect(view(await restarted.admit(request))).toEqual(view(await live.admit(request)));
        }
        for (const probe of probes) {
          clock.advance(1_000);
          const request = video({ accountId: ACCOUNTS[probe.account][0], userId: probe.user, seconds: probe.seconds });
          expect(view(await restarted.admit(request))).toEqual(view(await live.admit(request)));
        }
      }),
      { numRuns: 150 },
    );
  });
});
