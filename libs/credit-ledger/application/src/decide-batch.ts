/**
 * Deciding a batch: each command in order against its account's state as left by the commands before it, with
 * the pure decider. Pure apart from the new events' ids, so a batch that lost a race is simply decided again.
 */
import type { CreditAccountState } from '@access/credit-ledger-domain';
import { decide, evolveAll, initialState, parseInstant } from '@access/credit-ledger-domain';
import { newEventId } from '@access/contracts';
import type { AccountCommand, CommandOutcome, StoredEvent } from './commands';

export type DecidedBatch<Ref> = {
  readonly outcomes: CommandOutcome<Ref>[];
  readonly events: StoredEvent[];
  /** Final state of every account in the batch (changed or not). */
  readonly after: Map<string, CreditAccountState>;
  /**
   * Per account that appended events, the earliest `causedAtMs` of the commands that appended them: the oldest
   * cause its new balance reflects. Commands that changed nothing (duplicates, rejections) do not count.
   */
  readonly causedAtMs: Map<string, number>;
};

export function decideBatch<Ref>(items: readonly AccountCommand<Ref>[], before: ReadonlyMap<string, CreditAccountState>): DecidedBatch<Ref> {
  const after = new Map(before);
  const outcomes: CommandOutcome<Ref>[] = [];
  const events: StoredEvent[] = [];
  const causedAtMs = new Map<string, number>();
  for (const item of items) {
    let state = after.get(item.accountId) ?? initialState();
    const command = typeof item.command === 'function' ? item.command(state) : item.command;
    if (command === null) {
      outcomes.push({ item, command, result: null, events: [], state });
      continue;
    }
    const result = decide(command, state);
    const appended: StoredEvent[] = [];
    const first = state.version + 1;
    result.events.forEach((event, i) => {
      appended.push({ accountId: item.accountId, version: first + i, id: newEventId(), event, causationId: item.causationId ?? null });
    });
    const last = result.events.at(-1);
    if (result.kind === 'accepted' && last !== undefined) {
      // The decider's own state after the events saves folding them twice. It equals the fold whenever its clock
      // stopped at the last event; `expireDue` moves the clock past its last expiry, so there we fold.
      state = result.state.clockMs === parseInstant(last.occurredAt) ? result.state : evolveAll(state, result.events);
    }
    after.set(item.accountId, state);
    events.push(...appended);
    outcomes.push({ item, command, result, events: appended, state });
    if (appended.length > 0 && item.causedAtMs !== undefined) {
      const earliest = causedAtMs.get(item.accountId);
      if (earliest === undefined || item.causedAtMs < earliest) causedAtMs.set(item.accountId, item.causedAtMs);
    }
  }
  return { outcomes, events, after, causedAtMs };
}
