/**
 * The working copy of an account that `decide` builds a decision in (credit-account.decider.ts): each event is
 * folded with `evolve` as it is emitted, so the next is computed against exactly the state a replay will see;
 * and what time has made due is recorded before a command acts.
 */
import type { CreditAccountEvent, Draw, ForfeitReason, GrantExpired } from './credit-account.events';
import { rejected, type DecideResult } from './credit-account.outcomes';
import type { CreditAccountState, GrantState } from './credit-account.state';
import { advanceClock, debtCredits, drawableCredits, evolve, isExpiredAt } from './credit-account.state';
import { formatInstant } from './time';

/** The working copy a decision is built in: events are folded into it one at a time as they are emitted. */
export class Transaction {
  private readonly events: CreditAccountEvent[] = [];
  private current: CreditAccountState;
  /** The instant being decided at; ends at max(now, the stream's clock). Only moves forward. */
  atMs: number;

  constructor(state: CreditAccountState) {
    this.current = state;
    this.atMs = state.clockMs ?? Number.NEGATIVE_INFINITY;
  }

  get state(): CreditAccountState {
    return this.current;
  }

  get at(): string {
    return formatInstant(this.atMs);
  }

  emit(event: CreditAccountEvent): void {
    this.events.push(event);
    this.current = evolve(this.current, event);
  }

  accepted(): DecideResult {
    // Sums are plain numbers: refuse (rather than round) once a total would leave the safe integers.
    const { totals, balanceCredits } = this.current;
    const sums = [balanceCredits, ...Object.values(totals)];
    if (!sums.every((sum) => Number.isSafeInteger(sum))) {
      return rejected('limit_exceeded', 'the account totals would exceed the safe integer range');
    }
    return { kind: 'accepted', events: this.events, state: this.current };
  }

  drawableGrants(): (GrantState & { readonly drawableCredits: number })[] {
    const grants: (GrantState & { readonly drawableCredits: number })[] = [];
    for (const grant of this.current.grants.values()) {
      const credits = drawableCredits(grant, this.atMs);
      if (credits > 0) grants.push({ ...grant, drawableCredits: credits });
    }
    return grants;
  }

  /**
   * Records, in time order, every reservation and grant expiry due at `atMs`, then moves the clock to
   * `atMs`. At the same instant reservations go first, so a hold that ends together with its grant
   * releases into it before the grant's remainder is forfeited (one grant_expired, not two).
   */
  recordDue(atMs: number): void {
    const due: { readonly ms: number; readonly rank: 0 | 1; readonly seq: number; readonly id: string }[] = [];
    for (const r of this.current.reservations.values()) {
      if (r.expiresAtMs <= atMs) due.push({ ms: r.expiresAtMs, rank: 0, seq: r.seq, id: r.admissionId });
    }
    for (const g of this.current.grants.values()) {
      // Not only active grants: one that becomes effective and expires between the last event and
      // atMs is activated by the clock moving to its expiry, then forfeited there.
      if (g.expiresAtMs !== null && g.expiresAtMs <= atMs) due.push({ ms: g.expiresAtMs, rank: 1, seq: g.seq, id: g.grantId });
    }
    due.sort((a, b) => a.ms - b.ms || a.rank - b.rank || a.seq - b.seq);
    for (const item of due) {
      this.moveClockTo(item.ms);
      if (item.rank === 0) {
        const open = this.current.reservations.get(item.id);
        if (open === undefined) continue;
        this.emit({
          type: 'reservation_expired',
          occurredAt: this.at,
          data: { admissionId: open.admissionId, requestId: open.requestId, releasedCredits: open.credits },
        });
        this.forfeitReleasedOnExpiredGrants(open.draws, this.atMs);
      } else {
        this.forfeitIfExpired(item.id, this.atMs);
      }
    }
    this.moveClockTo(atMs);
  }

  /** After a hold ends: what it kept on grants that have expired meanwhile is forfeited now. */
  forfeitReleasedOnExpiredGrants(draws: readonly Draw[], atMs: number): void {
    for (const draw of draws) this.forfeitIfExpired(draw.grantId, atMs);
  }

  private forfeitIfExpired(grantId: string, atMs: number): void {
    const grant = this.current.grants.get(grantId);
    if (grant === undefined || !isExpiredAt(grant, atMs)) return;
    const unheld = grant.remainingCredits - grant.heldCredits;
    if (unheld > 0) this.forfeit(grantId, unheld, grant.expiryRecorded ? 'released_after_expiry' : 'expired');
  }

  /**
   * Takes `credits` off a grant for good. If the account is in debt, the credits pay it first and only
   * the rest is lost (README, "Debt"): expiring credits never leave a debt behind that they could pay.
   */
  forfeit(grantId: string, credits: number, reason: ForfeitReason): void {
    const debtRepaidCredits = Math.min(credits, debtCredits(this.current));
    const event: GrantExpired = {
      type: 'grant_expired',
      occurredAt: this.at,
      data: { grantId, forfeitedCredits: credits - debtRepaidCredits, debtRepaidCredits, reason },
    };
    this.emit(event);
  }

  /** Expiry events carry their own instant; the clock only moves forward. */
  private moveClockTo(ms: number): void {
    this.atMs = Math.max(ms, this.current.clockMs ?? ms, this.atMs);
    this.current = advanceClock(this.current, this.atMs);
  }
}
