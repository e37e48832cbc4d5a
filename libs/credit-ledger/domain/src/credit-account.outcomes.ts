/** What `decide` answers: the outcome of a command as a value (credit-account.decider.ts). */
import type { CreditAccountEvent } from './credit-account.events';
import type { CreditAccountState, Resolution } from './credit-account.state';

export type Rejection =
  | 'account_not_open'
  | 'invalid_id'
  | 'invalid_text'
  | 'invalid_amount'
  | 'invalid_priority'
  | 'invalid_source'
  | 'invalid_time'
  | 'reservation_not_found'
  | 'limit_exceeded';

/** What an accepted reserve found: the ledger records a hold even when the account cannot cover it. */
export type ReserveReport = {
  /** available (balance - held) just before the hold. */
  readonly availableBeforeCredits: number;
  /** How far the hold took available below zero: max(0, credits - max(0, availableBefore)). */
  readonly shortfallCredits: number;
  /** Part of the hold that no grant could be drawn on. */
  readonly uncoveredByGrantsCredits: number;
};

export type DecideResult =
  /**
   * The command took effect; `events` (possibly empty for expireDue) are to be appended in order. `state` is
   * the account after them (exactly `evolveAll(state, events)`), so a store need not fold them again.
   */
  | { readonly kind: 'accepted'; readonly events: readonly CreditAccountEvent[]; readonly state: CreditAccountState; readonly reserve?: ReserveReport }
  /** The same id with the same body was already recorded: nothing to do; `first` is what was recorded. */
  | { readonly kind: 'exists'; readonly events: readonly []; readonly first: CreditAccountEvent }
  /** The same id was recorded with another body: nothing changes, never a silent overwrite. */
  | { readonly kind: 'conflict'; readonly events: readonly []; readonly first: CreditAccountEvent; readonly detail: string }
  /** The reservation this command is about has already been settled, voided or expired. */
  | { readonly kind: 'already_resolved'; readonly events: readonly []; readonly resolution: Resolution; readonly first: CreditAccountEvent }
  | { readonly kind: 'rejected'; readonly events: readonly []; readonly reason: Rejection; readonly detail: string };

export const rejected = (reason: Rejection, detail: string): DecideResult => ({ kind: 'rejected', events: [], reason, detail });
export const exists = (first: CreditAccountEvent): DecideResult => ({ kind: 'exists', events: [], first });
export const conflict = (first: CreditAccountEvent, detail: string): DecideResult => ({ kind: 'conflict', events: [], first, detail });
