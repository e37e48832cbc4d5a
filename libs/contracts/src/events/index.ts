import type { z } from 'zod';
import { admissionDecidedV1Schema } from './admission';
import { deadletterRecordedV1Schema } from './deadletter';
import {
  balanceChangedV1Schema,
  creditsAdjustedV1Schema,
  creditsGrantedV1Schema,
  creditsReservedV1Schema,
  grantExpiredV1Schema,
  reservationExpiredV1Schema,
  reservationSettledV1Schema,
  reservationVoidedV1Schema,
} from './ledger';
import { limitsAdjustedV1Schema, loadSampledV1Schema, reputationChangedV1Schema } from './load-feedback';
import { usageRequestCompletedV1Schema } from './usage';

export * from './admission';
export * from './deadletter';
export * from './ledger';
export * from './load-feedback';
export * from './usage';

/**
 * Every CloudEvents `type` this system speaks: `io.access.<event>.v<version>`. A new version of an event is a
 * new entry with its own schema; the old one stays so old events still parse. All are at v1, so nothing is upcast
 * yet (see README.md).
 */
export const EVENTS = {
  admissionDecided: 'io.access.admission.decided.v1',
  usageRequestCompleted: 'io.access.usage.request_completed.v1',
  creditsGranted: 'io.access.ledger.credits_granted.v1',
  creditsReserved: 'io.access.ledger.credits_reserved.v1',
  reservationSettled: 'io.access.ledger.reservation_settled.v1',
  reservationVoided: 'io.access.ledger.reservation_voided.v1',
  reservationExpired: 'io.access.ledger.reservation_expired.v1',
  grantExpired: 'io.access.ledger.grant_expired.v1',
  creditsAdjusted: 'io.access.ledger.credits_adjusted.v1',
  balanceChanged: 'io.access.ledger.balance_changed.v1',
  loadSampled: 'io.access.load.sampled.v1',
  limitsAdjusted: 'io.access.limits.adjusted.v1',
  reputationChanged: 'io.access.reputation.changed.v1',
  deadletterRecorded: 'io.access.deadletter.recorded.v1',
} as const;

export const eventTypes = [
  EVENTS.admissionDecided,
  EVENTS.usageRequestCompleted,
  EVENTS.creditsGranted,
  EVENTS.creditsReserved,
  EVENTS.reservationSettled,
  EVENTS.reservationVoided,
  EVENTS.reservationExpired,
  EVENTS.grantExpired,
  EVENTS.creditsAdjusted,
  EVENTS.balanceChanged,
  EVENTS.loadSampled,
  EVENTS.limitsAdjusted,
  EVENTS.reputationChanged,
  EVENTS.deadletterRecorded,
] as const;
export type EventType = (typeof eventTypes)[number];

/** The entries of an account's ledger stream, as published on `access.ledger.v1` (balance_changed is a projection). */
export const ledgerEventTypes = [
  EVENTS.creditsGranted,
  EVENTS.creditsReserved,
  EVENTS.reservationSettled,
  EVENTS.reservationVoided,
  EVENTS.reservationExpired,
  EVENTS.grantExpired,
  EVENTS.creditsAdjusted,
] as const;
export type LedgerEventType = (typeof ledgerEventTypes)[number];

/** The data schema of each event type. */
export const eventDataSchemas = {
  [EVENTS.admissionDecided]: admissionDecidedV1Schema,
  [EVENTS.usageRequestCompleted]: usageRequestCompletedV1Schema,
  [EVENTS.creditsGranted]: creditsGrantedV1Schema,
  [EVENTS.creditsReserved]: creditsReservedV1Schema,
  [EVENTS.reservationSettled]: reservationSettledV1Schema,
  [EVENTS.reservationVoided]: reservationVoidedV1Schema,
  [EVENTS.reservationExpired]: reservationExpiredV1Schema,
  [EVENTS.grantExpired]: grantExpiredV1Schema,
  [EVENTS.creditsAdjusted]: creditsAdjustedV1Schema,
  [EVENTS.balanceChanged]: balanceChangedV1Schema,
  [EVENTS.loadSampled]: loadSampledV1Schema,
  [EVENTS.limitsAdjusted]: limitsAdjustedV1Schema,
  [EVENTS.reputationChanged]: reputationChangedV1Schema,
  [EVENTS.deadletterRecorded]: deadletterRecordedV1Schema,
} as const satisfies Record<EventType, z.ZodType>;

export type EventData<T extends EventType> = z.output<(typeof eventDataSchemas)[T]>;

export function isEventType(type: string): type is EventType {
  return Object.hasOwn(eventDataSchemas, type);
}
