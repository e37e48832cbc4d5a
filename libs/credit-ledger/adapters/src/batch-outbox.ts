/**
 * The outbox row of a batch: its ledger events in order, then one balance per changed account (with the time of
 * its oldest cause, when one is known), then dead letters, one message per line (format in outbox-lines.ts), each
 * with the trace context of its cause.
 */
import { EVENTS, makeEvent, newEventId, deadletterData } from '@access/contracts';
import type { DeadLetter, DecidedBatch } from '@access/credit-ledger-application';
import { balanceOutboxMessage, ledgerOutboxMessage, outboxMessage } from './event-codec';
import { formatOutboxLine, type OutboxKind } from './outbox-lines';

export function batchOutbox<Ref>(batch: DecidedBatch<Ref>, deadLetters: readonly DeadLetter[], source: string): { lines: string; count: number } {
  const lines: string[] = [];
  const push = (kind: OutboxKind, message: { key: string; value: string }, causedAtMs: number | null, traceparent: string | undefined) => {
    lines.push(formatOutboxLine(kind, message.key, message.value, causedAtMs, traceparent));
  };
  // Each event and balance carries on the trace of the command that caused it; an account's balance, that of the
  // last command that changed it.
  const traceOfAccount = new Map<string, string | undefined>();
  for (const outcome of batch.outcomes) {
    if (outcome.events.length === 0) continue;
    traceOfAccount.set(outcome.item.accountId, outcome.item.traceparent);
    for (const stored of outcome.events) {
      const message = ledgerOutboxMessage(stored);
      if (message !== null) push('ledger', message, null, outcome.item.traceparent);
    }
  }
  for (const [accountId, traceparent] of traceOfAccount) {
    push('balance', balanceOutboxMessage(accountId, batch.after.get(accountId)!), batch.causedAtMs.get(accountId) ?? null, traceparent);
  }
  const now = new Date().toISOString();
  for (const dl of deadLetters) {
    const event = makeEvent(EVENTS.deadletterRecorded, {
      id: newEventId(),
      source,
      time: now,
      subject: dl.topic,
      data: deadletterData(dl),
    });
    // A dead letter keeps the trace context of the message it records, as every consumer's dead letters do.
    push('deadletter', outboxMessage(event), null, dl.headers?.traceparent);
  }
  return { lines: lines.join('\n'), count: lines.length };
}
