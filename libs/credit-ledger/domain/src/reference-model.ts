/**
 * A reference model of one credit account, for the property test only. It is written to be obviously
 * right rather than fast: mutable objects, whole-array scans, every sum recomputed from scratch, and a
 * rejected command undone by restoring a copy. It shares nothing with the decider but the rules as
 * README.md states them (and the identifier / amount checks in limits.ts, which are plain predicates).
 */
import type { CreditAccountCommand } from './credit-account.commands';
import { defaultPriorityBySource } from './credit-account.commands';
import type { GrantSource } from './credit-account.events';
import type { Data, RefGrant, RefOutcome, RefView } from './reference-model.types';
import { isCredits, isId, isPositiveCredits, isText, ledgerLimits } from './limits';
import { parseInstant } from './time';

export type { RefOutcome, RefView } from './reference-model.types';

type DataOf<T extends CreditAccountCommand['type']> = Extract<CreditAccountCommand, { type: T }>['data'];

const no = (reason: string): RefOutcome => ({ kind: 'rejected', reason });

export class ReferenceLedger {
  private d: Data = {
    open: false,
    plan: null,
    clock: Number.NEGATIVE_INFINITY,
    grants: [],
    reservations: [],
    adjustments: [],
    settled: 0,
    forfeited: 0,
    overshoot: 0,
  };

  apply(command: CreditAccountCommand): RefOutcome {
    const saved = structuredClone(this.d);
    const outcome = this.run(command);
    if (outcome.kind !== 'accepted') this.d = saved;
    return outcome;
  }

  /** The account as seen at `asOf` (or at its last entry), with what is due by then expired. */
  view(asOf?: number): RefView {
    const saved = structuredClone(this.d);
    const at = Math.max(asOf ?? this.d.clock, this.d.clock);
    if (this.d.open) this.expireDue(at);
    const d = this.d;
    const view: RefView = {
      balanceCredits: this.balance(at),
      heldCredits: this.held(),
      availableCredits: this.balance(at) - this.held(),
      pendingCredits: d.grants.filter((g) => g.effectiveAt > at).reduce((s, g) => s + g.credits, 0),
      settledCredits: d.settled,
      forfeitedCredits: d.forfeited,
      overshootCredits: d.overshoot,
      grants: d.grants
        .filter((g) => g.remaining > 0)
        .map((g) => ({ grantId: g.id, remainingCredits: g.remaining, heldCredits: this.heldOn(g.id) }))
        .sort((a, b) => (a.grantId < b.grantId ? -1 : 1)),
      reservations: d.reservations.map((r) => ({ admissionId: r.admissionId, status: r.status })).sort((a, b) => (a.admissionId < b.admissionId ? -1 : 1)),
    };
    this.d = saved;
    return view;
  }

  // ---- sums, always from scratch

  private balance(at: number): number {
    const granted = this.d.grants.filter((g) => g.effectiveAt <= at).reduce((s, g) => s + g.credits, 0);
    const adjusted = this.d.adjustments.reduce((s, a) => s + a.credits, 0);
    return granted - this.d.settled - this.d.forfeited + adjusted;
  }

  private held(): number {
    return this.d.reservations.filter((r) => r.status === 'open').reduce((s, r) => s + r.credits, 0);
  }

  private heldOn(grantId: string): number {
    let sum = 0;
    for (const r of this.d.reservations) if (r.status === 'open') for (const x of r.draws) if (x.grantId === grantId) sum += x.credits;
    return sum;
  }

  private debt(at: number): number {
    const onGrants = this.d.grants.filter((g) => g.effectiveAt <= at).reduce((s, g) => s + g.remaining, 0);
    return Math.max(0, onGrants - this.balance(at));
  }

  private burnOrdered(): RefGrant[] {
    return [...this.d.grants].sort(
      (a, b) => a.priority - b.priority || (a.expiresAt ?? Infinity) - (b.expiresAt ?? Infinity) || a.order - b.order,
    );
  }

  /** Takes up to `credits` from grants drawable at `at`, in burn order. */
  private take(credits: number, at: number): { grantId: string; credits: number }[] {
    const draws: { grantId: string; credits: number }[] = [];
    let left = credits;
    for (const g of this.burnOrdered()) {
      if (left === 0) break;
      if (g.effectiveAt > at || (g.expiresAt !== null && g.expiresAt <= at)) continue;
      const free = g.remaining - this.heldOn(g.id);
      const n = Math.min(free, left);
      if (n > 0) {
        draws.push({ grantId: g.id, credits: n });
        left -= n;
      }
    }
    return draws;
  }

  private record(at: number): void {
    this.d.clock = Math.max(this.d.clock, at);
  }

  private forfeit(g: RefGrant, credits: number, at: number): void {
    const repaid = Math.min(credits, this.debt(at));
    g.remaining -= credits;
    this.d.forfeited += credits - repaid;
    this.record(at);
  }

  /** Forfeits what no hold keeps on a grant whose expiry has come. */
  private forfeitExpired(g: RefGrant, at: number): void {
    if (g.expiresAt === null || g.expiresAt > at) return;
    const free = g.remaining - this.heldOn(g.id);
    if (free > 0) this.forfeit(g, free, at);
  }

  /** Repeatedly handles the earliest due thing: a hold running out, or an expired grant with free credits. */
  private expireDue(at: number): void {
    for (;;) {
      const dueHolds = this.d.reservations.filter((r) => r.status === 'open' && r.expiresAt <= at);
      const dueGrants = this.d.grants.filter((g) => g.expiresAt !== null && g.expiresAt <= at && g.remaining - this.heldOn(g.id) > 0);
      const hold = dueHolds.sort((a, b) => a.expiresAt - b.expiresAt || a.order - b.order)[0];
      const grant = dueGrants.sort((a, b) => (a.expiresAt ?? 0) - (b.expiresAt ?? 0) || a.order - b.order)[0];
      if (hold === undefined && grant === undefined) return;
      if (hold !== undefined && (grant === undefined || hold.expiresAt <= (grant.expiresAt ?? 0))) {
        const when = Math.max(hold.expiresAt, this.d.clock);
        hold.status = 'expired';
        this.record(when);
        for (const x of hold.draws) {
          const g = this.d.grants.find((y) => y.id === x.grantId);
          if (g !== undefined) this.forfeitExpired(g, when);
        }
      } else if (grant !== undefined) {
        this.forfeitExpired(grant, Math.max(grant.expiresAt ?? 0, this.d.clock));
      }
    }
  }

  // ---- commands

  private run(command: CreditAccountCommand): RefOutcome {
    const now = parseInstant(command.metadata.now);
    if (now === null) return { kind: 'rejected', reason: 'invalid_time' };
    if (command.type !== 'openAccount' && !this.d.open) return { kind: 'rejected', reason: 'account_not_open' };
    const at = Math.max(now, this.d.clock);
    if (this.d.open) this.expireDue(at);

    switch (command.type) {
      case 'openAccount':
        return this.openAccount(command.data, at);
      case 'changePlan':
        return this.changePlan(command.data, at);
      case 'grant':
        return this.grant(command.data, at);
      case 'grantPlanPeriod':
        return this.grantPlanPeriod(command.data, at);
      case 'reserve':
        return this.reserve(command.data, at);
      case 'settle':
        return this.settle(command.data, at);
      case 'void':
        return this.voidReservation(command.data, at);
      case 'adjust':
        return this.adjust(command.data, at);
      case 'expireDue':
        return { kind: 'accepted' };
    }
  }

  private openAccount(c: DataOf<'openAccount'>, at: number): RefOutcome {
    const d = this.d;
    if (!isId(c.plan)) return no('invalid_id');
    if (d.open) return { kind: d.plan === c.plan ? 'exists' : 'conflict' };
    d.open = true;
    d.plan = c.plan;
    this.record(at);
    return { kind: 'accepted' };
  }

  private changePlan(c: DataOf<'changePlan'>, at: number): RefOutcome {
    const d = this.d;
    if (!isId(c.plan)) return no('invalid_id');
    if (d.plan === c.plan) return { kind: 'exists' };
    d.plan = c.plan;
    this.record(at);
    return { kind: 'accepted' };
  }

  private grant(c: DataOf<'grant'>, at: number): RefOutcome {
    const d = this.d;
    if (!isId(c.grantId)) return no('invalid_id');
    if (!isPositiveCredits(c.credits)) return no('invalid_amount');
    if (!['purchase', 'promo', 'plan', 'enterprise'].includes(c.source)) return no('invalid_source');
    const priority = c.priority ?? defaultPriorityBySource[c.source];
    if (!Number.isInteger(priority) || priority < 0 || priority > ledgerLimits.priorityMax) return no('invalid_priority');
    const effectiveAt = c.effectiveAt === undefined ? undefined : parseInstant(c.effectiveAt);
    if (effectiveAt === null) return no('invalid_time');
    const expiresAt = c.expiresAt === undefined || c.expiresAt === null ? null : parseInstant(c.expiresAt);
    if (expiresAt === null && c.expiresAt !== undefined && c.expiresAt !== null) return no('invalid_time');
    const old = d.grants.find((g) => g.id === c.grantId);
    if (old !== undefined) {
      const same =
        old.period === null &&
        old.credits === c.credits &&
        old.source === c.source &&
        old.priority === priority &&
        old.expiresAt === expiresAt &&
        (effectiveAt === undefined ? old.effectiveAt <= old.grantedAt : old.effectiveAt === effectiveAt);
      return { kind: same ? 'exists' : 'conflict' };
    }
    const effective = effectiveAt ?? at;
    if (expiresAt !== null && (expiresAt <= effective || expiresAt <= at)) return no('invalid_time');
    if (d.grants.filter((g) => g.remaining > 0).length >= ledgerLimits.liveGrantsMax) return no('limit_exceeded');
    d.grants.push(this.newGrant(c.grantId, c.credits, c.source, priority, effective, expiresAt, at, null));
    this.record(at);
    return { kind: 'accepted' };
  }

  private grantPlanPeriod(c: DataOf<'grantPlanPeriod'>, at: number): RefOutcome {
    const d = this.d;
    const id = `plan:${c.planId}:${c.periodKey}`;
    if (!isId(c.planId) || !isId(c.periodKey) || !isId(id)) return no('invalid_id');
    if (!isPositiveCredits(c.credits)) return no('invalid_amount');
    if (!isCredits(c.rolloverCapCredits)) return no('invalid_amount');
    const expiresAt = c.expiresAt === null ? null : parseInstant(c.expiresAt);
    if (expiresAt === null && c.expiresAt !== null) return no('invalid_time');
    const old = d.grants.find((g) => g.id === id);
    if (old !== undefined) {
      const same =
        old.period !== null &&
        old.period.cap === c.rolloverCapCredits &&
        old.credits === c.credits &&
        old.expiresAt === expiresAt;
      return { kind: same ? 'exists' : 'conflict' };
    }
    if (expiresAt !== null && expiresAt <= at) return no('invalid_time');
    if (d.grants.filter((g) => g.remaining > 0).length >= ledgerLimits.liveGrantsMax) return no('limit_exceeded');
    const earlier = this.burnOrdered().filter((g) => g.source === 'plan' && g.effectiveAt <= at && g.remaining > 0);
    let excess = earlier.reduce((s, g) => s + g.remaining, 0) - c.rolloverCapCredits;
    for (const g of earlier) {
      const cut = Math.min(Math.max(excess, 0), g.remaining - this.heldOn(g.id));
      if (cut > 0) {
        this.forfeit(g, cut, at);
        excess -= cut;
      }
    }
    d.grants.push(this.newGrant(id, c.credits, 'plan', defaultPriorityBySource.plan, at, expiresAt, at, { planId: c.planId, periodKey: c.periodKey, cap: c.rolloverCapCredits }));
    this.record(at);
    return { kind: 'accepted' };
  }

  private reserve(c: DataOf<'reserve'>, at: number): RefOutcome {
    const d = this.d;
    if (!isId(c.admissionId) || !isId(c.requestId)) return no('invalid_id');
    if (!isPositiveCredits(c.credits)) return no('invalid_amount');
    const expiresAt = parseInstant(c.expiresAt);
    if (expiresAt === null) return no('invalid_time');
    const old = d.reservations.find((r) => r.admissionId === c.admissionId);
    if (old !== undefined && old.status === 'open') {
      const same = old.requestId === c.requestId && old.credits === c.credits && old.expiresAt === expiresAt;
      return { kind: same ? 'exists' : 'conflict' };
    }
    if (old !== undefined) return { kind: 'already_resolved' };
    if (d.reservations.filter((r) => r.status === 'open').length >= ledgerLimits.openReservationsMax) return no('limit_exceeded');
    d.reservations.push({
      admissionId: c.admissionId,
      requestId: c.requestId,
      order: d.reservations.length,
      credits: c.credits,
      expiresAt,
      draws: this.take(c.credits, at),
      status: 'open',
      settledActual: null,
      settledRequestId: null,
      voidReason: null,
    });
    this.record(at);
    this.expireDue(at);
    return { kind: 'accepted' };
  }

  private settle(c: DataOf<'settle'>, at: number): RefOutcome {
    const d = this.d;
    if (!isId(c.admissionId) || !isId(c.requestId)) return no('invalid_id');
    if (!isCredits(c.actualCredits)) return no('invalid_amount');
    let r = d.reservations.find((x) => x.admissionId === c.admissionId);
    if (r !== undefined && r.status === 'open' && r.requestId !== c.requestId) return { kind: 'conflict' };
    if (r !== undefined && r.status === 'settled') {
      return { kind: r.settledRequestId === c.requestId && r.settledActual === c.actualCredits ? 'exists' : 'conflict' };
    }
    if (r !== undefined && r.status === 'voided') return { kind: 'already_resolved' };
    const holding = r !== undefined && r.status === 'open' ? r : null;
    let left = c.actualCredits;
    if (holding !== null) {
      // The hold's own draws pay first; what they leave goes back to the grants, and only then
      // does an extra charge look for free credits.
      const own = holding.draws.map((x) => ({ ...x }));
      holding.status = 'settled';
      for (const x of own) {
        const n = Math.min(left, x.credits);
        const g = d.grants.find((y) => y.id === x.grantId);
        if (g !== undefined) g.remaining -= n;
        left -= n;
      }
      d.overshoot += Math.max(0, c.actualCredits - holding.credits);
    } else {
      d.overshoot += c.actualCredits;
    }
    for (const x of this.take(left, at)) {
      const g = d.grants.find((y) => y.id === x.grantId);
      if (g !== undefined) g.remaining -= x.credits;
    }
    d.settled += c.actualCredits;
    if (r === undefined) {
      r = {
        admissionId: c.admissionId,
        requestId: c.requestId,
        order: d.reservations.length,
        credits: 0,
        expiresAt: at,
        draws: [],
        status: 'settled',
        settledActual: null,
        settledRequestId: null,
        voidReason: null,
      };
      d.reservations.push(r);
    }
    r.status = 'settled';
    r.settledActual = c.actualCredits;
    r.settledRequestId = c.requestId;
    this.record(at);
    if (holding !== null) this.expireDue(at);
    return { kind: 'accepted' };
  }

  private voidReservation(c: DataOf<'void'>, at: number): RefOutcome {
    const d = this.d;
    if (!isId(c.admissionId)) return no('invalid_id');
    if (!isText(c.reason)) return no('invalid_text');
    const r = d.reservations.find((x) => x.admissionId === c.admissionId);
    if (r === undefined) return no('reservation_not_found');
    if (r.status === 'voided') return { kind: r.voidReason === c.reason ? 'exists' : 'conflict' };
    if (r.status !== 'open') return { kind: 'already_resolved' };
    r.status = 'voided';
    r.voidReason = c.reason;
    this.record(at);
    this.expireDue(at);
    return { kind: 'accepted' };
  }

  private adjust(c: DataOf<'adjust'>, at: number): RefOutcome {
    const d = this.d;
    if (!isId(c.adjustmentId)) return no('invalid_id');
    if (!isPositiveCredits(Math.abs(c.credits))) return no('invalid_amount');
    if (!isText(c.reason)) return no('invalid_text');
    const old = d.adjustments.find((a) => a.id === c.adjustmentId);
    if (old !== undefined) return { kind: old.credits === c.credits && old.reason === c.reason ? 'exists' : 'conflict' };
    d.adjustments.push({ id: c.adjustmentId, credits: c.credits, reason: c.reason });
    this.record(at);
    return { kind: 'accepted' };
  }

  private newGrant(
    id: string,
    credits: number,
    source: GrantSource,
    priority: number,
    effectiveAt: number,
    expiresAt: number | null,
    grantedAt: number,
    period: RefGrant['period'],
  ): RefGrant {
    return { id, order: this.d.grants.length, credits, source, priority, effectiveAt, expiresAt, grantedAt, period, remaining: credits };
  }
}
