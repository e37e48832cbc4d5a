/**
 * Named maxima of the credit-ledger domain (TIGER_STYLE: limits on everything). Commands that would
 * exceed one are rejected with `limit_exceeded` or `invalid_*`, so the state a stream can reach is bounded.
 */
export const ledgerLimits = {
  /** One grant, reservation, settlement or adjustment moves at most this many credits (10^12). */
  creditsPerCommandMax: 1_000_000_000_000,
  /** Grant priorities are 0..priorityMax; lower burns first. */
  priorityMax: 1_000,
  /** Grants that still hold credits (or are not yet effective). Bounds the burn-order scan. */
  liveGrantsMax: 1_000,
  /** Open reservations per account. Admission's concurrency limits keep real accounts far below it. */
  openReservationsMax: 100_000,
  /** Identifiers follow CONTRACTS.md: ^[A-Za-z0-9_.:-]{1,128}$. */
  idLengthMax: 128,
  /** Plans and free-text reasons (void, adjustment). */
  textLengthMax: 1_000,
} as const;

const ID = /^[A-Za-z0-9_.:-]+$/;

/** Whether `value` is an identifier as CONTRACTS.md defines them. */
export function isId(value: string): boolean {
  return typeof value === 'string' && value.length <= ledgerLimits.idLengthMax && ID.test(value);
}

/** Whether `value` is a non-blank text of bounded length (plan names, reasons). */
export function isText(value: string): boolean {
  return typeof value === 'string' && value.trim().length > 0 && value.length <= ledgerLimits.textLengthMax;
}

/** Whether `value` is a whole number of credits in 1..creditsPerCommandMax. */
export function isPositiveCredits(value: number): boolean {
  return Number.isSafeInteger(value) && value > 0 && value <= ledgerLimits.creditsPerCommandMax;
}

/** Whether `value` is a whole number of credits in 0..creditsPerCommandMax. */
export function isCredits(value: number): boolean {
  return value === 0 || isPositiveCredits(value);
}
