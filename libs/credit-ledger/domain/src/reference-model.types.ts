/** The reference model's plain data (reference-model.ts). */
import type { GrantSource } from './credit-account.events';

export type RefGrant = {
  id: string;
  order: number;
  credits: number;
  source: GrantSource;
  priority: number;
  effectiveAt: number;
  expiresAt: number | null;
  grantedAt: number;
  period: { planId: string; periodKey: string; cap: number } | null;
  remaining: number;
};

export type RefReservation = {
  admissionId: string;
  requestId: string;
  order: number;
  credits: number;
  expiresAt: number;
  draws: { grantId: string; credits: number }[];
  status: 'open' | 'settled' | 'voided' | 'expired';
  settledActual: number | null;
  settledRequestId: string | null;
  voidReason: string | null;
};

export type RefOutcome = { kind: 'accepted' | 'exists' | 'conflict' | 'already_resolved' } | { kind: 'rejected'; reason: string };

export type RefView = {
  balanceCredits: number;
  heldCredits: number;
  availableCredits: number;
  pendingCredits: number;
  settledCredits: number;
  forfeitedCredits: number;
  overshootCredits: number;
  grants: { grantId: string; remainingCredits: number; heldCredits: number }[];
  reservations: { admissionId: string; status: string }[];
};

export type Data = {
  open: boolean;
  plan: string | null;
  clock: number;
  grants: RefGrant[];
  reservations: RefReservation[];
  adjustments: { id: string; credits: number; reason: string }[];
  settled: number;
  forfeited: number;
  overshoot: number;
};
