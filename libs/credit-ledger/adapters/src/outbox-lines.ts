/**
 * The text of an outbox row, pure: one message per line, `kind TAB key TAB value`, then two optional fields:
 * `causedAtMs` (balance lines: when the oldest message whose effect the balance includes was published, its Kafka
 * timestamp; empty when unknown) and `traceparent` (the W3C trace context the message is published with: the
 * ledger's span of the message that caused it). Keys are ids or topic names and values are JSON (JSON.stringify
 * escapes tabs and newlines inside strings and writes no whitespace of its own), so neither holds a tab or a newline,
 * and the optional fields are unambiguous. Rows written before a field existed have fewer fields and still parse.
 */
import { isTraceparent } from '@access/platform-observability';

/** Where an outbox message goes: access.ledger.v1, access.balances.v1 or access.deadletter.v1. */
export type OutboxKind = 'ledger' | 'balance' | 'deadletter';

export interface OutboxLine {
  readonly kind: string;
  readonly key: string;
  readonly value: string;
  /** Balance lines: publication time (epoch ms) of the oldest cause; null when unknown (no consumed message caused it). */
  readonly causedAtMs: number | null;
  /** The W3C traceparent to publish the message with; undefined when its cause carried none. */
  readonly traceparent?: string;
}

export function formatOutboxLine(kind: OutboxKind, key: string, value: string, causedAtMs: number | null = null, traceparent?: string): string {
  const base = `${kind}\t${key}\t${value}`;
  // Only a well-formed traceparent is written: a header read from Kafka could hold a tab or a newline.
  if (isTraceparent(traceparent)) return `${base}\t${causedAtMs ?? ''}\t${traceparent}`;
  return causedAtMs === null ? base : `${base}\t${causedAtMs}`;
}

export function parseOutboxLine(line: string): OutboxLine {
  const tab1 = line.indexOf('\t');
  const tab2 = line.indexOf('\t', tab1 + 1);
  const tab3 = line.indexOf('\t', tab2 + 1);
  if (tab3 < 0) return { kind: line.slice(0, tab1), key: line.slice(tab1 + 1, tab2), value: line.slice(tab2 + 1), causedAtMs: null };
  const tab4 = line.indexOf('\t', tab3 + 1);
  // A measurement, not money: a field that does not read as a time is dropped rather than failing the publisher.
  const causedAtMs = Number(tab4 < 0 ? line.slice(tab3 + 1) : line.slice(tab3 + 1, tab4));
  const parsed = {
    kind: line.slice(0, tab1),
    key: line.slice(tab1 + 1, tab2),
    value: line.slice(tab2 + 1, tab3),
    causedAtMs: Number.isSafeInteger(causedAtMs) && causedAtMs > 0 ? causedAtMs : null,
  };
  // Trace context, not money either: anything but a W3C traceparent is dropped.
  const traceparent = tab4 < 0 ? undefined : line.slice(tab4 + 1);
  return traceparent !== undefined && isTraceparent(traceparent) ? { ...parsed, traceparent } : parsed;
}

/**
 * The lines to publish, in order, with only the newest balance of each account (the balances topic is compacted:
 * older ones are noise). The balance kept takes the minimum `causedAtMs` of the balances it replaces, because it
 * reflects all of their causes and the oldest of them has waited longest; it keeps its own `traceparent` (its newest
 * cause's trace).
 */
export function coalesceBalances(lines: readonly OutboxLine[]): OutboxLine[] {
  const newest = new Map<string, number>();
  const oldestCause = new Map<string, number>();
  lines.forEach((line, i) => {
    if (line.kind !== 'balance') return;
    newest.set(line.key, i);
    const cause = oldestCause.get(line.key);
    if (line.causedAtMs !== null && (cause === undefined || line.causedAtMs < cause)) oldestCause.set(line.key, line.causedAtMs);
  });
  const out: OutboxLine[] = [];
  lines.forEach((line, i) => {
    if (line.kind !== 'balance') out.push(line);
    else if (newest.get(line.key) === i) out.push({ ...line, causedAtMs: oldestCause.get(line.key) ?? null });
  });
  return out;
}
