/**
 * How the ledger's events leave the domain as CloudEvents on `access.ledger.v1` / `access.balances.v1`, and how a
 * row of `ledger_events` (type, occurred_at, data) becomes a domain event again. Every message is built with the contract's
 * `makeEvent`, which validates exactly as consumers will, so a breach fails here, not in a dead-letter topic.
 * The domain's extra fields (shortfallCredits, planPeriod, debtRepaidCredits, reason) stay in Postgres; the
 * contract schemas strip them from the Kafka messages.
 */
import {
  EVENTS,
  SOURCES,
  makeEvent,
  newEventId,
  toKafkaMessage,
  type AnyAccessEvent,
  type BalanceChangedV1,
} from '@access/contracts';
import type { CreditAccountEvent, CreditAccountEventType, CreditAccountState } from '@access/credit-ledger-domain';
import { availableCredits, creditAccountEventTypes } from '@access/credit-ledger-domain';

import type { StoredEvent } from '@access/credit-ledger-application';

export type { StoredEvent };

/** The CloudEvents type of each domain event; null for those the contract does not publish (account lifecycle). */
const cloudEventTypes: Readonly<Record<CreditAccountEventType, (typeof EVENTS)[keyof typeof EVENTS] | null>> = {
  account_opened: null,
  plan_changed: null,
  credits_granted: EVENTS.creditsGranted,
  credits_reserved: EVENTS.creditsReserved,
  reservation_settled: EVENTS.reservationSettled,
  reservation_voided: EVENTS.reservationVoided,
  reservation_expired: EVENTS.reservationExpired,
  grant_expired: EVENTS.grantExpired,
  credits_adjusted: EVENTS.creditsAdjusted,
};

export function isEventType(type: string): type is CreditAccountEventType {
  return (creditAccountEventTypes as readonly string[]).includes(type);
}

/** Rebuilds a domain event from its row. The row was written from a domain event (postgres/batch-sql.ts), so its shape is trusted. */
export function fromRow(type: string, occurredAt: string, data: unknown): CreditAccountEvent {
  if (!isEventType(type)) throw new Error(`ledger_events holds an unknown event type ${JSON.stringify(type)}`);
  return { type, occurredAt, data } as CreditAccountEvent;
}

/**
 * The CloudEvent of a stored ledger event for `access.ledger.v1` (same id as the stored event, so a
 * republished event is recognised by every consumer), or null for events the contract does not carry.
 */
export function ledgerCloudEvent(stored: StoredEvent): AnyAccessEvent | null {
  const type = cloudEventTypes[stored.event.type];
  if (type === null) return null;
  return makeEvent(type, {
    id: stored.id,
    source: SOURCES.creditLedger,
    time: stored.event.occurredAt,
    // The domain data carries no accountId/version: the stream position is the store's.
    data: { accountId: stored.accountId, version: stored.version, occurredAt: stored.event.occurredAt, ...stored.event.data } as never,
  });
}

/** `ledger.balance_changed` for the compacted `access.balances.v1`: the account as of its last event. */
export function balanceCloudEvent(accountId: string, state: CreditAccountState): AnyAccessEvent {
  const occurredAt = new Date(state.clockMs ?? 0).toISOString();
  const data: BalanceChangedV1 = {
    accountId,
    version: state.version,
    balanceCredits: state.balanceCredits,
    heldCredits: state.heldCredits,
    availableCredits: availableCredits(state),
    plan: state.plan,
    occurredAt,
  };
  return makeEvent(EVENTS.balanceChanged, { id: newEventId(), source: SOURCES.creditLedger, time: occurredAt, data });
}

/**
 * The contract's `data` of a ledger event: exactly the fields its schema lists (the domain's extra fields stay in
 * Postgres), in the schema's order. Null for events the contract does not publish.
 */
function contractData(stored: StoredEvent): Record<string, unknown> | null {
  const { accountId, version } = stored;
  const e = stored.event;
  const head = { accountId, version, occurredAt: e.occurredAt };
  switch (e.type) {
    case 'account_opened':
    case 'plan_changed':
      return null;
    case 'credits_granted': {
      const d = e.data;
      return { ...head, grantId: d.grantId, credits: d.credits, source: d.source, priority: d.priority, effectiveAt: d.effectiveAt, expiresAt: d.expiresAt };
    }
    case 'credits_reserved': {
      const d = e.data;
      return { ...head, admissionId: d.admissionId, requestId: d.requestId, credits: d.credits, draws: d.draws, expiresAt: d.expiresAt };
    }
    case 'reservation_settled': {
      const d = e.data;
      return {
        ...head, admissionId: d.admissionId, requestId: d.requestId, heldCredits: d.heldCredits, actualCredits: d.actualCredits,
        releasedCredits: d.releasedCredits, overshootCredits: d.overshootCredits, draws: d.draws,
      };
    }
    case 'reservation_voided': {
      const d = e.data;
      return { ...head, admissionId: d.admissionId, requestId: d.requestId, releasedCredits: d.releasedCredits, reason: d.reason };
    }
    case 'reservation_expired': {
      const d = e.data;
      return { ...head, admissionId: d.admissionId, requestId: d.requestId, releasedCredits: d.releasedCredits };
    }
    case 'grant_expired':
      return { ...head, grantId: e.data.grantId, forfeitedCredits: e.data.forfeitedCredits };
    case 'credits_adjusted':
      return { ...head, adjustmentId: e.data.adjustmentId, credits: e.data.credits, reason: e.data.reason };
    default: {
      const _exhaustive: never = e;
      return _exhaustive;
    }
  }
}

/**
 * The outbox message of a stored ledger event, built without re-validating: on the hot path (every settlement)
 * the zod round trip of `makeEvent` costs more than the rest of the message. The events come from the decider,
 * and `event-codec.spec.ts` proves for every type that this message is exactly `ledgerCloudEvent`'s, which
 * validates.
 */
export function ledgerOutboxMessage(stored: StoredEvent): { key: string; value: string } | null {
  const type = cloudEventTypes[stored.event.type];
  const data = contractData(stored);
  if (type === null || data === null) return null;
  const envelope = {
    specversion: '1.0',
    id: stored.id,
    source: SOURCES.creditLedger,
    type,
    time: stored.event.occurredAt,
    subject: stored.accountId,
    datacontenttype: 'application/json',
    data,
  };
  return { key: stored.accountId, value: JSON.stringify(envelope) };
}

/** `balanceCloudEvent` as an outbox message, built without re-validating (see `ledgerOutboxMessage`). */
export function balanceOutboxMessage(accountId: string, state: CreditAccountState, id: string = newEventId()): { key: string; value: string } {
  const occurredAt = new Date(state.clockMs ?? 0).toISOString();
  const envelope = {
    specversion: '1.0',
    id,
    source: SOURCES.creditLedger,
    type: EVENTS.balanceChanged,
    time: occurredAt,
    subject: accountId,
    datacontenttype: 'application/json',
    data: {
      accountId,
      version: state.version,
      balanceCredits: state.balanceCredits,
      heldCredits: state.heldCredits,
      availableCredits: availableCredits(state),
      plan: state.plan,
      occurredAt,
    },
  };
  return { key: accountId, value: JSON.stringify(envelope) };
}

/** The outbox row of a CloudEvent: the message key and the serialized value. */
export function outboxMessage(event: AnyAccessEvent): { key: string; value: string } {
  const message = toKafkaMessage(event);
  return { key: message.key, value: message.value };
}
