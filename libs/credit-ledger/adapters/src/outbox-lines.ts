/**
 * The text of an outbox row, pure: one message per line, `kind TAB key TAB value`, and on balance lines an
 * optional fourth field, `causedAtMs`: when the oldest message whose effect the balance includes was published
 * (its Kafka timestamp). Keys are ids or topic names and values are JSON (JSON.stringify escapes tabs and
 * newlines inside strings and writes no whitespace of its own), so neither holds a tab or a newline, and a fourth
 * field is unambiguous. Rows written before the field existed have three fields and still parse.
 */

/** Where an outbox message goes: access.ledger.v1, access.balances.v1 or access.deadletter.v1. */
export type OutboxKind = 'ledger' | 'balance' | 'deadletter';

export interface OutboxLine {
  readonly kind: string;
  readonly key: string;
  readonly value: string;
  /** Balance lines: publication time (epoch ms) of the oldest cause; null when unknown (no consumed message caused it). */
  readonly causedAtMs: number | null;
}

export function formatOutboxLine(kind: OutboxKind, key: string, value: string, causedAtMs: number | null = null): string {
  return causedAtMs === null ? `${kind}\t${key}\t${value}` : `${kind}\t${key}\t${value}\t${causedAtMs}`;
}

export function parseOutboxLine(line: string): OutboxLine {
  const tab1 = line.indexOf('\t');
  const tab2 = line.indexOf('\t', tab1 + 1);
  const tab3 = line.indexOf('\t', tab2 + 1);
  if (tab3 < 0) return { kind: line.slice(0, tab1), key: line.slice(tab1 + 1, tab2), value: line.slice(tab2 + 1), causedAtMs: null };
  // A measurement, not money: a field that does not read as a time is dropped rather than failing the publisher.
  const causedAtMs = Number(line.slice(tab3 + 1));
  return {
    kind: line.slice(0, tab1),
    key: line.slice(tab1 + 1, tab2),
    value: line.slice(tab2 + 1, tab3),
    causedAtMs: Number.isSafeInteger(causedAtMs) && causedAtMs > 0 ? causedAtMs : null,
  };
}

/**
 * The lines to publish, in order, with only the newest balance of each account (the balances topic is compacted:
 * older ones are noise). The balance kept takes the minimum `causedAtMs` of the balances it replaces, because it
 * reflects all of their causes and the oldest of them has waited longest.
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
