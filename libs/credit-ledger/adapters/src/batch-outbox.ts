/**
 * The outbox row of a batch: its ledger events in order, then one balance per changed account (with the time of
 * its oldest cause, when one is known), then dead letters, one message per line (format in outbox-lines.ts).
 */
import { EVENTS, makeEvent, newEventId, deadletterData } from '@access/contracts';
import type { DeadLetter, DecidedBatch } from '@access/credit-ledger-application';
import { balanceOutboxMessage, ledgerOutboxMessage, outboxMessage } from './event-codec';
import { formatOutboxLine, type OutboxKind } from './outbox-lines';

export function batchOutbox<Ref>(batch: DecidedBatch<Ref>, deadLetters: readonly DeadLetter[], source: string): { lines: string; count: number } {
  const lines: string[] = [];
  const push = (kind: OutboxKind, message: { key: string; value: string }, causedAtMs: number | null = null) => {
    lines.push(formatOutboxLine(kind, message.key, message.value, causedAtMs));
  };
  const changed = new Set<string>();
  for (const stored of batch.events) {
    changed.add(stored.accountId);
    const message = ledgerOutboxMessage(stored);
    if (message !== null) push('ledger', message);
  }
  for (const accountId of changed) push('balance', balanceOutboxMessage(accountId, batch.after.get(accountId)!), batch.causedAtMs.get(accountId) ?? null);
  const now = new Date().toISOString();
  for (const dl of deadLetters) {
    const event = makeEvent(EVENTS.deadletterRecorded, {
      id: newEventId(),
      source,
      time: now,
      subject: dl.topic,
      data: deadletterData(dl),
    });
    push('deadletter', outboxMessage(event));
  }
  return { lines: lines.join('\n'), count: lines.length };
}
