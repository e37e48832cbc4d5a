/**
 * The events of one credit account stream. They are the ledger's source of truth: stored by the
 * adapters, published through the outbox, and audited by `verifyStream`. Each is made of JSON
 * primitives only (OpenMeter's lesson: domain types inside events make old events unreadable), has its
 * own `type`, and says when it happened in `occurredAt` (UTC, milliseconds). A stream's `occurredAt`
 * never decreases. The store adds `version` (the stream position) and an event `id`.
 */

export type GrantSource = 'purchase' | 'promo' | 'plan' | 'enterprise';
export const grantSources: readonly GrantSource[] = ['purchase', 'promo', 'plan', 'enterprise'];

/** Credits taken from (or held on) one grant. */
export type Draw = { readonly grantId: string; readonly credits: number };

/** How a grant lost credits other than by being spent. */
export type ForfeitReason =
  /** The grant reached its expiresAt with credits left that no hold kept. */
  | 'expired'
  /** A new plan period arrived and the earlier plan credits were above the rollover cap. */
  | 'rolled_over'
  /** A hold kept credits on a grant that has since expired; the hold resolved without spending them. */
  | 'released_after_expiry';

/** Set on the recurring plan grant (`grantPlanPeriod`); null on every other grant. */
export type PlanPeriod = {
  readonly planId: string;
  readonly periodKey: string;
  readonly rolloverCapCredits: number;
};

type DomainEvent<Type extends string, Data> = {
  readonly type: Type;
  readonly occurredAt: string;
  readonly data: Data;
};

export type AccountOpened = DomainEvent<'account_opened', { readonly plan: string }>;

export type PlanChanged = DomainEvent<'plan_changed', { readonly plan: string; readonly previousPlan: string }>;

export type CreditsGranted = DomainEvent<
  'credits_granted',
  {
    readonly grantId: string;
    readonly credits: number;
    readonly source: GrantSource;
    /** Lower burns first. */
    readonly priority: number;
    /** The grant counts (in balance, available and draws) from this instant. */
    readonly effectiveAt: string;
    /** What is left at this instant is forfeited; null never expires. */
    readonly expiresAt: string | null;
    readonly planPeriod: PlanPeriod | null;
  }
>;

export type CreditsReserved = DomainEvent<
  'credits_reserved',
  {
    readonly admissionId: string;
    readonly requestId: string;
    /** The whole hold; `held` grows by exactly this. */
    readonly credits: number;
    /** The grants the hold is drawn on, in burn order. Their sum is `credits` minus what no grant covered. */
    readonly draws: readonly Draw[];
    /** How far this hold took `available` below zero (admission decides; the ledger records). */
    readonly shortfallCredits: number;
    readonly expiresAt: string;
  }
>;

export type ReservationSettled = DomainEvent<
  'reservation_settled',
  {
    readonly admissionId: string;
    readonly requestId: string;
    /** The hold this settlement resolved; 0 when there was none (completion before decision, or after expiry). */
    readonly heldCredits: number;
    /** The whole cost, charged in full: `balance` falls by exactly this. */
    readonly actualCredits: number;
    /** max(0, held - actual): returned to the grants the hold was drawn on. */
    readonly releasedCredits: number;
    /** max(0, actual - held): charged beyond the hold. */
    readonly overshootCredits: number;
    /** Where the actual cost came from, per grant; what they do not cover lowers the unallocated balance. */
    readonly draws: readonly Draw[];
  }
>;

export type ReservationVoided = DomainEvent<
  'reservation_voided',
  { readonly admissionId: string; readonly requestId: string; readonly releasedCredits: number; readonly reason: string }
>;

export type ReservationExpired = DomainEvent<
  'reservation_expired',
  { readonly admissionId: string; readonly requestId: string; readonly releasedCredits: number }
>;

export type GrantExpired = DomainEvent<
  'grant_expired',
  {
    readonly grantId: string;
    /** Credits lost: `balance` falls by exactly this. */
    readonly forfeitedCredits: number;
    /**
     * Credits of this grant that went to pay the account's debt instead of being lost (see README,
     * "Debt"). They leave the grant but not the balance.
     */
    readonly debtRepaidCredits: number;
    readonly reason: ForfeitReason;
  }
>;

export type CreditsAdjusted = DomainEvent<
  'credits_adjusted',
  { readonly adjustmentId: string; readonly credits: number; readonly reason: string }
>;

export type CreditAccountEvent =
  | AccountOpened
  | PlanChanged
  | CreditsGranted
  | CreditsReserved
  | ReservationSettled
  | ReservationVoided
  | ReservationExpired
  | GrantExpired
  | CreditsAdjusted;

export type CreditAccountEventType = CreditAccountEvent['type'];

export const creditAccountEventTypes: readonly CreditAccountEventType[] = [
  'account_opened',
  'plan_changed',
  'credits_granted',
  'credits_reserved',
  'reservation_settled',
  'reservation_voided',
  'reservation_expired',
  'grant_expired',
  'credits_adjusted',
];
