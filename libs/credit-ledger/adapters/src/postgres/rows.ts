/** How a row of `ledger_events` becomes a stored event (shared by every read of the log). */
import type { StoredEvent } from '@access/credit-ledger-application';
import { fromRow } from '../event-codec';

export type EventRow = {
  account_id: string;
  version: number;
  event_id: string;
  type: string;
  occurred_ms: number;
  data: unknown;
  causation_id: string | null;
};

/** `occurred_at` as epoch milliseconds: pg would otherwise build a Date in the process's time zone. */
export const occurredMsSql = 'round(extract(epoch FROM occurred_at) * 1000)::float8';

export const eventColumnsSql = `account_id, version, event_id, type, ${occurredMsSql} AS occurred_ms, data, causation_id`;

export function toStoredEvent(row: EventRow): StoredEvent {
  return {
    accountId: row.account_id,
    version: Number(row.version),
    id: row.event_id,
    event: fromRow(row.type, new Date(Number(row.occurred_ms)).toISOString(), row.data),
    causationId: row.causation_id,
  };
}
