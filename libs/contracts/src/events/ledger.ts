import { z } from 'zod';
import { contractLimits } from '../limits';
import {
  creditsSchema,
  idSchema,
  isoTimeSchema,
  nonNegativeCreditsSchema,
  positiveCreditsSchema,
  reasonSchema,
  uuidv7Schema,
} from '../primitives';

/**
 * Ledger events, published from the credit-ledger's outbox. Each is one entry of an account's append-only
 * stream: `version` is its position (1, 2, 3, … without gaps per account), `occurredAt` its time.
 */
const ledgerEntry = {
  accountId: idSchema,
  version: z.int().min(1),
  occurredAt: isoTimeSchema,
};

export const grantSourceSchema = z.enum(['purchase', 'promo', 'plan', 'enterprise']);
export type GrantSource = z.infer<typeof grantSourceSchema>;

/** Credits a reservation or settlement took from one grant. */
export const drawSchema = z.object({ grantId: idSchema, credits: nonNegativeCreditsSchema });
export type Draw = z.infer<typeof drawSchema>;
const drawsSchema = z.array(drawSchema).max(contractLimits.drawsMax);

/** Grants burn in order of `priority` (lower first), then earliest expiry, then oldest. */
export const creditsGrantedV1Schema = z
  .object({
    ...ledgerEntry,
    grantId: idSchema,
    credits: positiveCreditsSchema,
    source: grantSourceSchema,
    priority: z.int(),
    effectiveAt: isoTimeSchema,
    expiresAt: isoTimeSchema.nullable(),
  })
  .refine((d) => d.expiresAt === null || d.expiresAt > d.effectiveAt, {
    path: ['expiresAt'],
    message: 'must be after effectiveAt',
  });
export type CreditsGrantedV1 = z.infer<typeof creditsGrantedV1Schema>;

/** A hold for an admitted request; `draws` says which grants it is held against (the ledger's choice). */
export const creditsReservedV1Schema = z.object({
  ...ledgerEntry,
  admissionId: uuidv7Schema,
  requestId: idSchema,
  credits: nonNegativeCreditsSchema,
  draws: drawsSchema,
  expiresAt: isoTimeSchema,
});
export type CreditsReservedV1 = z.infer<typeof creditsReservedV1Schema>;

/**
 * The one settlement of a request. `releasedCredits` = max(0, held − actual) returns to available;
 * `overshootCredits` = max(0, actual − held) is charged beyond the hold (the only way an account goes below
 * zero). So `held − released + overshoot = actual`, and at most one of released and overshoot is non-zero.
 */
export const reservationSettledV1Schema = z
  .object({
    ...ledgerEntry,
    admissionId: uuidv7Schema,
    requestId: idSchema,
    heldCredits: nonNegativeCreditsSchema,
    actualCredits: nonNegativeCreditsSchema,
    releasedCredits: nonNegativeCreditsSchema,
    overshootCredits: nonNegativeCreditsSchema,
    draws: drawsSchema,
  })
  .superRefine((d, ctx) => {
    if (d.releasedCredits !== Math.max(0, d.heldCredits - d.actualCredits)) {
      ctx.addIssue({ code: 'custom', path: ['releasedCredits'], message: 'must be max(0, heldCredits - actualCredits)' });
    }
    if (d.overshootCredits !== Math.max(0, d.actualCredits - d.heldCredits)) {
      ctx.addIssue({ code: 'custom', path: ['overshootCredits'], message: 'must be max(0, actualCredits - heldCredits)' });
    }
  });
export type ReservationSettledV1 = z.infer<typeof reservationSettledV1Schema>;

/** A hold released without a charge (the request was not run, or its decision was withdrawn). */
export const reservationVoidedV1Schema = z.object({
  ...ledgerEntry,
  admissionId: uuidv7Schema,
  requestId: idSchema,
  releasedCredits: nonNegativeCreditsSchema,
  reason: reasonSchema,
});
export type ReservationVoidedV1 = z.infer<typeof reservationVoidedV1Schema>;

/** A hold whose request never completed before `expiresAt`. */
export const reservationExpiredV1Schema = z.object({
  ...ledgerEntry,
  admissionId: uuidv7Schema,
  requestId: idSchema,
  releasedCredits: nonNegativeCreditsSchema,
});
export type ReservationExpiredV1 = z.infer<typeof reservationExpiredV1Schema>;

/** The unused rest of a grant, forfeited at its expiry. */
export const grantExpiredV1Schema = z.object({
  ...ledgerEntry,
  grantId: idSchema,
  forfeitedCredits: nonNegativeCreditsSchema,
});
export type GrantExpiredV1 = z.infer<typeof grantExpiredV1Schema>;

/** An operator's correction (scope `ledger:admin`); never zero, because a zero adjustment records nothing. */
export const creditsAdjustedV1Schema = z.object({
  ...ledgerEntry,
  adjustmentId: idSchema,
  credits: creditsSchema.refine((c) => c !== 0, 'must not be 0'),
  reason: reasonSchema,
});
export type CreditsAdjustedV1 = z.infer<typeof creditsAdjustedV1Schema>;

/**
 * `ledger.balance_changed` on the compacted `access.balances.v1`: the latest balance of an account, as of
 * stream position `version`. `availableCredits` = `balanceCredits` − `heldCredits`; the balance may be negative.
 */
export const balanceChangedV1Schema = z
  .object({
    accountId: idSchema,
    version: z.int().min(1),
    balanceCredits: creditsSchema,
    heldCredits: nonNegativeCreditsSchema,
    availableCredits: creditsSchema,
    plan: idSchema.nullable(),
    occurredAt: isoTimeSchema,
  })
  .refine((d) => d.availableCredits === d.balanceCredits - d.heldCredits, {
    path: ['availableCredits'],
    message: 'must equal balanceCredits - heldCredits',
  });
export type BalanceChangedV1 = z.infer<typeof balanceChangedV1Schema>;
