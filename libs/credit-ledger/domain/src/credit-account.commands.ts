/**
 * Commands to one credit account. They arrive validated in shape (the adapters parse with the contract
 * schemas); the decider still checks the rules a schema cannot (amount bounds, time order, ids known to
 * the stream). Every command carries `now` in its metadata: the domain never reads the clock.
 * Ids (grantId, admissionId, adjustmentId, the plan period) are idempotency keys.
 */
import type { GrantSource } from './credit-account.events';

type Command<Type extends string, Data> = {
  readonly type: Type;
  readonly data: Data;
  readonly metadata: { readonly now: string };
};

export type OpenAccount = Command<'openAccount', { readonly plan: string }>;

export type ChangePlan = Command<'changePlan', { readonly plan: string }>;

export type Grant = Command<
  'grant',
  {
    readonly grantId: string;
    readonly credits: number;
    readonly source: GrantSource;
    /** Defaults by source: see `defaultPriorityBySource`. */
    readonly priority?: number;
    /** Defaults to now. */
    readonly effectiveAt?: string;
    /** Defaults to never. */
    readonly expiresAt?: string | null;
  }
>;

export type Reserve = Command<
  'reserve',
  { readonly admissionId: string; readonly requestId: string; readonly credits: number; readonly expiresAt: string }
>;

export type Settle = Command<
  'settle',
  { readonly admissionId: string; readonly requestId: string; readonly actualCredits: number }
>;

export type Void = Command<'void', { readonly admissionId: string; readonly reason: string }>;

/** Records every expiry that is due at `now`. Every other accepted command does this first, too. */
export type ExpireDue = Command<'expireDue', Record<string, never>>;

export type Adjust = Command<'adjust', { readonly adjustmentId: string; readonly credits: number; readonly reason: string }>;

export type GrantPlanPeriod = Command<
  'grantPlanPeriod',
  {
    readonly planId: string;
    /** Names the period, e.g. "2026-11"; the grant id is derived from it (`planPeriodGrantId`). */
    readonly periodKey: string;
    readonly credits: number;
    /** Earlier plan credits above this are forfeited when this period's grant arrives. */
    readonly rolloverCapCredits: number;
    readonly expiresAt: string | null;
  }
>;

export type CreditAccountCommand =
  | OpenAccount
  | ChangePlan
  | Grant
  | Reserve
  | Settle
  | Void
  | ExpireDue
  | Adjust
  | GrantPlanPeriod;

export type CreditAccountCommandType = CreditAccountCommand['type'];

/**
 * Lower burns first. Plan credits go first because they are use-it-or-lose-it each period; promo
 * credits next because they are free and usually short-lived; enterprise (contracted) credits before
 * purchased ones, because what a customer bought with their own money should last longest.
 */
export const defaultPriorityBySource: Readonly<Record<GrantSource, number>> = {
  plan: 10,
  promo: 20,
  enterprise: 30,
  purchase: 40,
};

/** The grant id of a plan period: deterministic, so granting the same period twice grants once. */
export function planPeriodGrantId(planId: string, periodKey: string): string {
  return `plan:${planId}:${periodKey}`;
}
