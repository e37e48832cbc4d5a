// The reference model of admission's invariants, shared by the single-instance model test (model.spec.ts) and the
// replicas property test of @access/admission-application: a plain ledger and the bounds every run must keep.
// Test support only (it asserts with vitest); imported as @access/admission-domain/testing, never by production code.
import type { PlansConfig } from '@access/catalog';
import { expect } from 'vitest';
import type { Decision } from './decision';
import { effectiveLimit } from './waterfall';

export { PLANS_YAML, PRICE_BOOK_YAML, testCatalog } from './spec-support';

/** What the reference model needs of an admitted decision (a domain Decision, or one read back from its event). */
export type ModelDecision = Pick<
  Decision,
  'admissionId' | 'accountId' | 'userId' | 'family' | 'decidedAtMs' | 'estimatedCredits' | 'heldCredits' | 'reservationExpiresAtMs' | 'fundedBy'
>;

/** An admitted request as the reference sees it: its allowance part, corrected to the actual cost once completed. */
export interface Admitted {
  readonly decision: ModelDecision;
  readonly userKey: string;
  readonly allowanceCredits: number;
  finalAllowanceCredits: number;
  completed: boolean;
}

/** The rate period of the per-minute limits. */
const P = 60_000;

/** The ledger, simplified to what the invariant needs, with its outgoing messages queued. */
export class ReferenceLedger {
  balance: number;
  readonly held = new Map<string, { credits: number; expiresAtMs: number }>();
  version = 1;
  overshoot = 0;
  readonly inbox: ({ kind: 'decided'; d: ModelDecision } | { kind: 'completed'; d: ModelDecision; actual: number; allowance: number })[] = [];
  readonly balances: { version: number; available: number }[] = [];
  readonly reserved: { admissionId: string; version: number }[] = [];

  constructor(
    readonly accountId: string,
    readonly plan: string,
    initial: number,
  ) {
    this.balance = initial;
  }

  get available(): number {
    let held = 0;
    for (const h of this.held.values()) held += h.credits;
    return this.balance - held;
  }

  private publish(): void {
    this.version++;
    this.balances.push({ version: this.version, available: this.available });
  }

  grant(credits: number): void {
    this.balance += credits;
    this.publish();
  }

  processNext(): void {
    const event = this.inbox.shift();
    if (event === undefined) return;
    if (event.kind === 'decided') {
      if (event.d.heldCredits === 0) return;
      // Like the real ledger (lazy expiry), a command first records what has come due by its own time.
      this.expire(event.d.decidedAtMs);
      this.held.set(event.d.admissionId, { credits: event.d.heldCredits, expiresAtMs: event.d.reservationExpiresAtMs ?? 0 });
      this.publish();
      this.reserved.push({ admissionId: event.d.admissionId, version: this.version });
    } else {
      // Allowance pays first; the rest settles against the hold (charged in full if it is more).
      const charged = event.actual - event.allowance;
      this.overshoot += Math.max(0, event.actual - event.d.estimatedCredits);
      const hold = this.held.get(event.d.admissionId);
      this.held.delete(event.d.admissionId);
      if (hold === undefined && charged === 0) return;
      this.balance -= charged;
      this.publish();
    }
  }

  expire(nowMs: number): void {
    let changed = false;
    for (const [id, h] of this.held) {
      if (h.expiresAtMs <= nowMs) {
        this.held.delete(id);
        changed = true;
      }
    }
    if (changed) this.publish();
  }
}

/** Credits never go below minus the overshoot (actual − estimated) of requests already completed (ARCHITECTURE.md). */
export function expectWithinOvershoot(ledger: ReferenceLedger): void {
  expect(ledger.available).toBeGreaterThanOrEqual(-ledger.overshoot);
}

/** Σ over any stretch [t_i, t_j] of admitted cost ≤ burst + refill over the stretch (+ one oversized request). */
export function expectRateBound(events: readonly { at: number; cost: number }[], limit: number): void {
  const biggest = Math.max(limit, ...events.map((e) => e.cost));
  for (let i = 0; i < events.length; i++) {
    let total = 0;
    for (let j = i; j < events.length; j++) {
      total += events[j]?.cost ?? 0;
      const span = (events[j]?.at ?? 0) - (events[i]?.at ?? 0);
      expect(total).toBeLessThanOrEqual(biggest + (span * limit) / P);
    }
  }
}

/**
 * The bounds on everything admitted (in decision order): per-account credits per minute, per-user requests per
 * minute, and in every true rolling window ending at an admission, allowance usage ≤ the window's credits.
 */
export function expectAdmittedWithinLimits(
  admitted: readonly Admitted[],
  plans: PlansConfig,
  accounts: readonly { readonly accountId: string; readonly plan: string }[],
  users: readonly string[],
  factor: number,
): void {
  for (const { accountId, plan: planName } of accounts) {
    const plan = plans.plans.get(planName);
    if (plan === undefined) throw new Error(`plan ${planName}`);
    const ofAccount = admitted.filter((a) => a.decision.accountId === accountId);
    expectRateBound(
      ofAccount.map((a) => ({ at: a.decision.decidedAtMs, cost: a.decision.estimatedCredits })),
      effectiveLimit(plan.creditsPerMinute, factor, 1e9),
    );
    for (const user of users) {
      expectRateBound(
        ofAccount.filter((a) => a.decision.userId === user).map((a) => ({ at: a.decision.decidedAtMs, cost: 1 })),
        effectiveLimit(plan.requestsPerMinute, factor, 1e9),
      );
    }
    for (const spec of plan.allowance) {
      const ofFamily = ofAccount.filter((a) => a.decision.family === spec.family);
      for (const at of ofFamily.map((a) => a.decision.decidedAtMs)) {
        const used = ofFamily.filter((a) => a.decision.decidedAtMs > at - spec.windowMs && a.decision.decidedAtMs <= at).reduce((s, a) => s + a.finalAllowanceCredits, 0);
        expect(used).toBeLessThanOrEqual(spec.credits);
      }
    }
  }
}

/** The allowance part of an admitted decision (allowance pays first). */
export function allowancePart(d: Pick<Decision, 'fundedBy'>): number {
  return d.fundedBy.reduce((sum, f) => sum + (f.source === 'allowance' ? f.credits : 0), 0);
}
