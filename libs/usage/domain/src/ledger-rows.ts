/** Ledger events to `ledger_entries` rows: the amount an event is about and its effect on balance and held credits. */
import { EVENTS, type AccessEvent } from '@access/contracts';
import { fail, nullableTime, origin, type KafkaOrigin, type LedgerRow, type MapContext, type MappedRow, type OriginColumns } from './columns';
import { splitIsoTime } from './time';

export type LedgerEvent = AccessEvent<
  | typeof EVENTS.creditsGranted
  | typeof EVENTS.creditsReserved
  | typeof EVENTS.reservationSettled
  | typeof EVENTS.reservationVoided
  | typeof EVENTS.reservationExpired
  | typeof EVENTS.grantExpired
  | typeof EVENTS.creditsAdjusted
>;

type LedgerSpecific = Omit<LedgerRow, keyof OriginColumns | 'time' | 'time_ms' | 'account_id' | 'version' | 'type'>;

const emptyLedger: LedgerSpecific = {
  credits: 0,
  balance_delta: 0,
  held_delta: 0,
  grant_id: '',
  admission_id: '',
  request_id: '',
  adjustment_id: '',
  source: '',
  priority: 0,
  effective_at: null,
  expires_at: null,
  held_credits: 0,
  actual_credits: 0,
  released_credits: 0,
  overshoot_credits: 0,
  draw_grant_ids: [],
  draw_credits: [],
  reason: '',
};

/** `io.access.ledger.credits_granted.v1` → `ledger.credits_granted`. */
export function shortEventName(type: string): string {
  return type.replace(/^io\.access\./, '').replace(/\.v\d+$/, '');
}

function ledgerSpecific(event: LedgerEvent): { ok: true; value: LedgerSpecific } | { ok: false; reason: string } {
  switch (event.type) {
    case EVENTS.creditsGranted: {
      const d = event.data;
      const effective = nullableTime(d.effectiveAt);
      if (!effective.ok) return { ok: false, reason: `data.effectiveAt: ${effective.reason}` };
      const expires = nullableTime(d.expiresAt);
      if (!expires.ok) return { ok: false, reason: `data.expiresAt: ${expires.reason}` };
      return {
        ok: true,
        value: { ...emptyLedger, credits: d.credits, balance_delta: d.credits, grant_id: d.grantId, source: d.source, priority: d.priority, effective_at: effective.value, expires_at: expires.value },
      };
    }
    case EVENTS.creditsReserved: {
      const d = event.data;
      const expires = nullableTime(d.expiresAt);
      if (!expires.ok) return { ok: false, reason: `data.expiresAt: ${expires.reason}` };
      return {
        ok: true,
        value: {
          ...emptyLedger, credits: d.credits, held_delta: d.credits, held_credits: d.credits, admission_id: d.admissionId, request_id: d.requestId,
          expires_at: expires.value, draw_grant_ids: d.draws.map((x) => x.grantId), draw_credits: d.draws.map((x) => x.credits),
        },
      };
    }
    case EVENTS.reservationSettled: {
      const d = event.data;
      return {
        ok: true,
        value: {
          ...emptyLedger, credits: d.actualCredits, balance_delta: -d.actualCredits, held_delta: -d.heldCredits, admission_id: d.admissionId,
          request_id: d.requestId, held_credits: d.heldCredits, actual_credits: d.actualCredits, released_credits: d.releasedCredits,
          overshoot_credits: d.overshootCredits, draw_grant_ids: d.draws.map((x) => x.grantId), draw_credits: d.draws.map((x) => x.credits),
        },
      };
    }
    case EVENTS.reservationVoided: {
      const d = event.data;
      return {
        ok: true,
        value: { ...emptyLedger, credits: d.releasedCredits, held_delta: -d.releasedCredits, admission_id: d.admissionId, request_id: d.requestId, released_credits: d.releasedCredits, reason: d.reason },
      };
    }
    case EVENTS.reservationExpired: {
      const d = event.data;
      return {
        ok: true,
        value: { ...emptyLedger, credits: d.releasedCredits, held_delta: -d.releasedCredits, admission_id: d.admissionId, request_id: d.requestId, released_credits: d.releasedCredits },
      };
    }
    case EVENTS.grantExpired: {
      const d = event.data;
      return { ok: true, value: { ...emptyLedger, credits: d.forfeitedCredits, balance_delta: -d.forfeitedCredits, grant_id: d.grantId } };
    }
    case EVENTS.creditsAdjusted: {
      const d = event.data;
      return { ok: true, value: { ...emptyLedger, credits: d.credits, balance_delta: d.credits, adjustment_id: d.adjustmentId, reason: d.reason } };
    }
    default: {
      const _exhaustive: never = event;
      return _exhaustive;
    }
  }
}

export function ledgerRow(event: LedgerEvent, from: KafkaOrigin, context: MapContext): MappedRow {
  const time = splitIsoTime(event.data.occurredAt);
  if (!time.ok) return fail(`data.occurredAt: ${time.reason}`);
  const specific = ledgerSpecific(event);
  if (!specific.ok) return fail(specific.reason);
  const row: LedgerRow = {
    ...origin(event, from, context.nowMs),
    time: time.value.seconds,
    time_ms: time.value.ms,
    account_id: event.data.accountId,
    version: event.data.version,
    type: shortEventName(event.type),
    ...specific.value,
  };
  return { ok: true, table: 'ledger_entries', row, accountId: event.data.accountId, timeMs: Date.parse(event.data.occurredAt) };
}
