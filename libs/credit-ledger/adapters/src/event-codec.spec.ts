/**
 * The outbox's fast message builders against the contract: for every ledger event type the decider emits, the
 * message built without zod is exactly what `makeEvent` (which validates as consumers do) produces, and it
 * parses with the contract schema.
 */
import { describe, expect, it } from 'vitest';
import { newEventId, parseEventJson } from '@access/contracts';
import type { CreditAccountEvent, CreditAccountState } from '@access/credit-ledger-domain';
import { decide, evolveAll, initialState } from '@access/credit-ledger-domain';
import { balanceCloudEvent, balanceOutboxMessage, ledgerCloudEvent, ledgerOutboxMessage, outboxMessage, type StoredEvent } from './event-codec';

const t = (minutes: number) => new Date(Date.UTC(2026, 10, 1) + minutes * 60_000).toISOString();
const admission = newEventId();
const voidedAdmission = newEventId();
const expiringAdmission = newEventId();

/** A stream with every event type, built by the decider itself. */
function stream(): { events: CreditAccountEvent[]; state: CreditAccountState } {
  let state = initialState();
  const events: CreditAccountEvent[] = [];
  const run = (command: Parameters<typeof decide>[0]) => {
    const result = decide(command, state);
    if (result.kind !== 'accepted') throw new Error(`${command.type}: ${result.kind}`);
    events.push(...result.events);
    state = evolveAll(state, result.events);
  };
  run({ type: 'openAccount', data: { plan: 'pro' }, metadata: { now: t(0) } });
  run({ type: 'changePlan', data: { plan: 'plus' }, metadata: { now: t(1) } });
  run({ type: 'grant', data: { grantId: 'promo-1', credits: 500, source: 'promo', expiresAt: t(60) }, metadata: { now: t(2) } });
  run({ type: 'grantPlanPeriod', data: { planId: 'plus', periodKey: '2026-11', credits: 1000, rolloverCapCredits: 0, expiresAt: null }, metadata: { now: t(3) } });
  run({ type: 'reserve', data: { admissionId: admission, requestId: 'req-1', credits: 300, expiresAt: t(30) }, metadata: { now: t(4) } });
  run({ type: 'settle', data: { admissionId: admission, requestId: 'req-1', actualCredits: 350 }, metadata: { now: t(5) } });
  run({ type: 'reserve', data: { admissionId: voidedAdmission, requestId: 'req-2', credits: 100, expiresAt: t(30) }, metadata: { now: t(6) } });
  run({ type: 'void', data: { admissionId: voidedAdmission, reason: 'cancelled' }, metadata: { now: t(7) } });
  run({ type: 'reserve', data: { admissionId: expiringAdmission, requestId: 'req-3', credits: 50, expiresAt: t(20) }, metadata: { now: t(8) } });
  run({ type: 'adjust', data: { adjustmentId: 'adj-1', credits: -25, reason: 'correction' }, metadata: { now: t(9) } });
  run({ type: 'expireDue', data: {}, metadata: { now: t(90) } });
  return { events, state };
}

describe('outbox messages', () => {
  const { events, state } = stream();
  const stored: StoredEvent[] = events.map((event, i) => ({ accountId: 'acct-7', version: i + 1, id: newEventId(), event, causationId: null }));

  it('covers every event type', () => {
    expect(new Set(events.map((e) => e.type))).toEqual(
      new Set(['account_opened', 'plan_changed', 'credits_granted', 'credits_reserved', 'reservation_settled', 'reservation_voided', 'reservation_expired', 'grant_expired', 'credits_adjusted']),
    );
  });

  it.each(stored.map((s) => [s.event.type, s] as const))('builds %s exactly as the validated event', (_type, s) => {
    const fast = ledgerOutboxMessage(s);
    const validated = ledgerCloudEvent(s);
    if (validated === null) {
      expect(fast).toBeNull(); // account lifecycle: not on the contract topic
      return;
    }
    expect(fast).not.toBeNull();
    expect(JSON.parse(fast!.value)).toEqual(JSON.parse(outboxMessage(validated).value));
    expect(fast!.key).toBe('acct-7');
    const parsed = parseEventJson(fast!.value);
    expect(parsed.ok).toBe(true);
  });

  it('builds the balance exactly as the validated event', () => {
    const validated = balanceCloudEvent('acct-7', state);
    const fast = balanceOutboxMessage('acct-7', state, validated.id);
    expect(JSON.parse(fast.value)).toEqual(JSON.parse(outboxMessage(validated).value));
    expect(JSON.parse(fast.value).data).toMatchObject({ version: events.length, balanceCredits: state.balanceCredits, plan: 'plus' });
  });
});
