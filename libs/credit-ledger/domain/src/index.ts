/**
 * @access/credit-ledger-domain: the pure core of the credit ledger. One decider per account stream;
 * pure projections for the store and the HTTP API; an independent verifier for `access ledger verify`.
 * No I/O, no clock, no randomness: see README.md for the rules and invariants.
 */
export type {
  AccountOpened,
  CreditAccountEvent,
  CreditAccountEventType,
  CreditsAdjusted,
  CreditsGranted,
  CreditsReserved,
  Draw,
  ForfeitReason,
  GrantExpired,
  GrantSource,
  PlanChanged,
  PlanPeriod,
  ReservationExpired,
  ReservationSettled,
  ReservationVoided,
} from './credit-account.events';
export { creditAccountEventTypes, grantSources } from './credit-account.events';

export type {
  Adjust,
  ChangePlan,
  CreditAccountCommand,
  CreditAccountCommandType,
  ExpireDue,
  Grant,
  GrantPlanPeriod,
  OpenAccount,
  Reserve,
  Settle,
  Void,
} from './credit-account.commands';
export { defaultPriorityBySource, planPeriodGrantId } from './credit-account.commands';

export type {
  CreditAccountState,
  GrantState,
  LedgerTotals,
  OpenReservation,
  Resolution,
  ResolvedReservation,
} from './credit-account.state';
export {
  availableCredits,
  debtCredits,
  evolve,
  evolveAll,
  initialState,
  unallocatedCredits,
} from './credit-account.state';

export type { DecideResult, Rejection, ReserveReport } from './credit-account.decider';
export { decide } from './credit-account.decider';

export type { BalanceView, GrantView } from './balance-view';
export { checkInvariants, toBalanceView } from './balance-view';

export type { Mismatch, ProjectionToVerify, RecomputedAccount, RecomputedGrant, StreamProblem, VerifyReport } from './verify-stream';
export { recomputeStream, verifyStream } from './verify-stream';

export type { Burnable } from './burn-order';
export { compareBurnOrder, drawInBurnOrder } from './burn-order';
export { IdMap } from './id-map';
export { isId, ledgerLimits } from './limits';
export { formatInstant, parseInstant } from './time';

/**
 * The plain reference model the property test checks the decider against; exported for the end-to-end tests of
 * the store and the service, which compare the ledger's balances with it. Not for production code.
 */
export { ReferenceLedger, type RefOutcome, type RefView } from './reference-model';
