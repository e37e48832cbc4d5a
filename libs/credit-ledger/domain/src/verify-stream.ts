/**
 * `access ledger verify`, the pure part: recomputes an account from its events alone and compares the
 * result with a stored projection. It is deliberately an independent fold (plain sums and maps, not
 * `evolve`), so that a bug in `evolve` shows up as a mismatch instead of being repeated here.
 * It also audits the stream itself: every problem found is reported with the event's version.
 */
import type { CreditAccountEvent, Draw } from './credit-account.events';
import { formatInstant, parseInstant } from './time';

/** What the store keeps per account (a `BalanceView` qualifies). Optional fields are checked when given. */
export type ProjectionToVerify = {
  readonly balanceCredits: number;
  readonly heldCredits: number;
  readonly availableCredits: number;
  readonly version: number;
  readonly pendingCredits?: number;
  readonly asOf?: string | null;
  readonly grants?: readonly { readonly grantId: string; readonly remainingCredits: number; readonly heldCredits?: number }[];
};

export type RecomputedGrant = { readonly grantId: string; readonly remainingCredits: number; readonly heldCredits: number };

export type RecomputedAccount = {
  readonly balanceCredits: number;
  readonly heldCredits: number;
  readonly availableCredits: number;
  readonly pendingCredits: number;
  readonly version: number;
  /** occurredAt of the last event: the instant the balance is computed at. */
  readonly asOf: string | null;
  /** Grants with credits left, or not yet effective, by grant id. */
  readonly grants: readonly RecomputedGrant[];
};

export type Mismatch = {
  readonly field: string;
  readonly projected: number | string | null;
  readonly recomputed: number | string | null;
};

export type StreamProblem = { readonly version: number; readonly type: string; readonly message: string };

export type VerifyReport = {
  /** No mismatch and no problem. */
  readonly ok: boolean;
  readonly recomputed: RecomputedAccount;
  readonly mismatches: readonly Mismatch[];
  readonly problems: readonly StreamProblem[];
};

type Grant = { credits: number; effectiveAtMs: number; remaining: number; held: number };
type Hold = { credits: number; draws: readonly Draw[] };

/** Recomputes the account from `events` (the whole stream, in order) and audits the stream. */
export function recomputeStream(events: readonly CreditAccountEvent[]): { recomputed: RecomputedAccount; problems: StreamProblem[] } {
  const audit = new StreamAudit();
  events.forEach((event, index) => audit.apply(event, index + 1));
  return audit.result(events.length);
}

/**
 * The fold behind `recomputeStream`, written from the events' own fields and independent of `evolve`: what each
 * grant and hold holds, what was settled, forfeited and adjusted, and every rule the stream breaks.
 */
class StreamAudit {
  readonly problems: StreamProblem[] = [];
  private readonly grants = new Map<string, Grant>();
  private readonly holds = new Map<string, Hold>();
  private readonly resolutions = new Map<string, CreditAccountEvent['type']>();
  private readonly adjustments = new Set<string>();
  private opened = false;
  private settled = 0;
  private forfeited = 0;
  private adjusted = 0;
  private lastMs: number | null = null;
  /** The event being applied, and its stream position: what a problem is reported against. */
  private current: { version: number; type: string } = { version: 0, type: '' };

  apply(event: CreditAccountEvent, version: number): void {
    this.current = { version, type: event.type };
    const atMs = parseInstant(event.occurredAt);
    if (atMs === null) this.problem(`occurredAt is not an ISO-8601 instant: ${event.occurredAt}`);
    else if (this.lastMs !== null && atMs < this.lastMs) this.problem('occurredAt goes back in time');
    else this.lastMs = atMs;
    if (event.type !== 'account_opened' && !this.opened) this.problem('event before account_opened');

    switch (event.type) {
      case 'account_opened':
        if (this.opened) this.problem('account opened twice');
        this.opened = true;
        break;
      case 'plan_changed':
        break;
      case 'credits_granted': {
        const d = event.data;
        if (this.grants.has(d.grantId)) this.problem(`grant ${d.grantId} granted twice`);
        if (!(d.credits > 0)) this.problem(`grant of ${d.credits} credits`);
        this.grants.set(d.grantId, { credits: d.credits, effectiveAtMs: parseInstant(d.effectiveAt) ?? 0, remaining: d.credits, held: 0 });
        break;
      }
      case 'credits_reserved':
        this.reserved(event.data);
        break;
      case 'reservation_settled':
        this.settle(event.data);
        this.resolutions.set(event.data.admissionId, event.type);
        break;
      case 'reservation_voided':
      case 'reservation_expired': {
        const d = event.data;
        if (!this.holds.has(d.admissionId)) this.problem(`admission ${d.admissionId} has no open reservation`);
        this.endHold(d.admissionId, d.releasedCredits, 'releasedCredits');
        this.resolutions.set(d.admissionId, event.type);
        break;
      }
      case 'grant_expired': {
        const d = event.data;
        if (d.forfeitedCredits < 0 || d.debtRepaidCredits < 0) this.problem('negative forfeiture');
        this.takeFrom(d.grantId, d.forfeitedCredits + d.debtRepaidCredits);
        this.forfeited += d.forfeitedCredits;
        break;
      }
      case 'credits_adjusted':
        if (this.adjustments.has(event.data.adjustmentId)) this.problem(`adjustment ${event.data.adjustmentId} recorded twice`);
        this.adjustments.add(event.data.adjustmentId);
        this.adjusted += event.data.credits;
        break;
      default: {
        const _exhaustive: never = event;
        this.problem(`unknown event ${(_exhaustive as { type: string }).type}`);
      }
    }
  }

  result(version: number): { recomputed: RecomputedAccount; problems: StreamProblem[] } {
    let granted = 0;
    let pending = 0;
    let held = 0;
    for (const grant of this.grants.values()) {
      if (this.lastMs !== null && grant.effectiveAtMs <= this.lastMs) granted += grant.credits;
      else pending += grant.credits;
    }
    for (const hold of this.holds.values()) held += hold.credits;
    const balanceCredits = granted - this.settled - this.forfeited + this.adjusted;
    return {
      problems: this.problems,
      recomputed: {
        balanceCredits,
        heldCredits: held,
        availableCredits: balanceCredits - held,
        pendingCredits: pending,
        version,
        asOf: this.lastMs === null ? null : formatInstant(this.lastMs),
        grants: [...this.grants]
          .filter(([, grant]) => grant.remaining > 0)
          .map(([grantId, grant]) => ({ grantId, remainingCredits: grant.remaining, heldCredits: grant.held }))
          .sort((a, b) => (a.grantId < b.grantId ? -1 : a.grantId > b.grantId ? 1 : 0)),
      },
    };
  }

  private reserved(d: Extract<CreditAccountEvent, { type: 'credits_reserved' }>['data']): void {
    if (this.holds.has(d.admissionId) || this.resolutions.has(d.admissionId)) this.problem(`admission ${d.admissionId} reserved again`);
    const drawn = d.draws.reduce((sum, draw) => sum + draw.credits, 0);
    if (drawn > d.credits) this.problem(`draws ${drawn} exceed the hold ${d.credits}`);
    this.holdOn(d.draws, 1);
    this.holds.set(d.admissionId, { credits: d.credits, draws: d.draws });
  }

  private settle(d: Extract<CreditAccountEvent, { type: 'reservation_settled' }>['data']): void {
    const previous = this.resolutions.get(d.admissionId);
    if (previous === 'reservation_settled' || previous === 'reservation_voided') this.problem(`admission ${d.admissionId} resolved twice`);
    this.endHold(d.admissionId, d.heldCredits, 'heldCredits');
    if (d.releasedCredits !== Math.max(0, d.heldCredits - d.actualCredits)) this.problem('releasedCredits != max(0, held - actual)');
    if (d.overshootCredits !== Math.max(0, d.actualCredits - d.heldCredits)) this.problem('overshootCredits != max(0, actual - held)');
    const drawn = d.draws.reduce((sum, draw) => sum + draw.credits, 0);
    if (drawn > d.actualCredits) this.problem(`draws ${drawn} exceed the actual cost ${d.actualCredits}`);
    for (const draw of d.draws) this.takeFrom(draw.grantId, draw.credits);
    this.settled += d.actualCredits;
  }

  private problem(message: string): void {
    this.problems.push({ ...this.current, message });
  }

  private grantFor(grantId: string): Grant | undefined {
    const grant = this.grants.get(grantId);
    if (grant === undefined) this.problem(`unknown grant ${grantId}`);
    return grant;
  }

  private holdOn(draws: readonly Draw[], sign: 1 | -1): void {
    for (const draw of draws) {
      const grant = this.grantFor(draw.grantId);
      if (grant === undefined) continue;
      if (draw.credits <= 0) this.problem(`draw of ${draw.credits} credits on ${draw.grantId}`);
      if (sign === 1 && this.lastMs !== null && grant.effectiveAtMs > this.lastMs) this.problem(`draw on grant ${draw.grantId} before it is effective`);
      grant.held += sign * draw.credits;
      if (grant.held > grant.remaining) this.problem(`grant ${draw.grantId} holds more than it has`);
    }
  }

  private takeFrom(grantId: string, credits: number): void {
    const grant = this.grantFor(grantId);
    if (grant === undefined) return;
    grant.remaining -= credits;
    if (grant.remaining < grant.held) this.problem(`grant ${grantId} would fall below its holds (${grant.remaining} < ${grant.held})`);
  }

  private endHold(admissionId: string, releasedOrHeld: number, field: string): void {
    const hold = this.holds.get(admissionId);
    if (hold === undefined) {
      if (releasedOrHeld !== 0) this.problem(`${field} ${releasedOrHeld} for admission ${admissionId} that holds nothing`);
      return;
    }
    if (hold.credits !== releasedOrHeld) this.problem(`${field} ${releasedOrHeld} != held ${hold.credits}`);
    this.holdOn(hold.draws, -1);
    this.holds.delete(admissionId);
  }
}

/**
 * Recomputes the account from its events and compares it with `projection`, which must describe the
 * stream as recorded (e.g. `toBalanceView(state)` without a later asOf).
 */
export function verifyStream(events: readonly CreditAccountEvent[], projection: ProjectionToVerify): VerifyReport {
  const { recomputed, problems } = recomputeStream(events);
  const mismatches: Mismatch[] = [];
  const compare = (field: string, projected: number | string | null, actual: number | string | null) => {
    if (projected !== actual) mismatches.push({ field, projected, recomputed: actual });
  };
  compare('balanceCredits', projection.balanceCredits, recomputed.balanceCredits);
  compare('heldCredits', projection.heldCredits, recomputed.heldCredits);
  compare('availableCredits', projection.availableCredits, recomputed.availableCredits);
  compare('version', projection.version, recomputed.version);
  if (projection.pendingCredits !== undefined) compare('pendingCredits', projection.pendingCredits, recomputed.pendingCredits);
  if (projection.asOf !== undefined) {
    const projectedMs = projection.asOf === null ? null : parseInstant(projection.asOf);
    compare('asOf', projectedMs === null ? projection.asOf : formatInstant(projectedMs), recomputed.asOf);
  }
  if (projection.grants !== undefined) {
    const expected = new Map(recomputed.grants.map((grant) => [grant.grantId, grant]));
    const seen = new Set<string>();
    for (const grant of projection.grants) {
      seen.add(grant.grantId);
      const actual = expected.get(grant.grantId);
      compare(`grants.${grant.grantId}.remainingCredits`, grant.remainingCredits, actual?.remainingCredits ?? 0);
      if (grant.heldCredits !== undefined) compare(`grants.${grant.grantId}.heldCredits`, grant.heldCredits, actual?.heldCredits ?? 0);
    }
    for (const grant of recomputed.grants) {
      if (!seen.has(grant.grantId)) compare(`grants.${grant.grantId}.remainingCredits`, null, grant.remainingCredits);
    }
  }
  return { ok: mismatches.length === 0 && problems.length === 0, recomputed, mismatches, problems };
}
