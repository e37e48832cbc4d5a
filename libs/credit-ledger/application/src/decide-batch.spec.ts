/** `decideBatch`: commands in order, each against the state the earlier ones left, with stream positions. */
import { describe, expect, it } from 'vitest';
import { evolveAll, initialState, type CreditAccountCommand, type CreditAccountState } from '@access/credit-ledger-domain';
import { decideBatch } from './decide-batch';

const now = '2026-11-25T10:00:00.000Z';
const open: CreditAccountCommand = { type: 'openAccount', data: { plan: 'pro' }, metadata: { now } };
const grant = (grantId: string, credits: number): CreditAccountCommand => ({ type: 'grant', data: { grantId, credits, source: 'purchase' }, metadata: { now } });

describe('decideBatch', () => {
  it('decides each command against the state the earlier ones of the batch left, numbering events from the committed version', () => {
    const batch = decideBatch(
      [
        { accountId: 'a', command: open },
        { accountId: 'a', command: grant('g1', 100) },
        { accountId: 'b', command: grant('g2', 50) },
      ],
      new Map(),
    );
    expect(batch.outcomes.map((o) => o.result?.kind)).toEqual(['accepted', 'accepted', 'rejected']);
    expect(batch.events.map((e) => [e.accountId, e.version, e.event.type])).toEqual([
      ['a', 1, 'account_opened'],
      ['a', 2, 'credits_granted'],
    ]);
    const a = batch.after.get('a')!;
    expect(a.balanceCredits).toBe(100);
    // The state kept for the account equals the fold of its events.
    expect(a).toEqual(evolveAll(initialState(), batch.events.map((e) => e.event)));
    expect(batch.after.get('b')!.version).toBe(0);
  });

  it('lets a command builder see the current state and skip (null), and takes the earliest cause of the appending commands', () => {
    const seen: CreditAccountState[] = [];
    const batch = decideBatch(
      [
        { accountId: 'a', command: open, causedAtMs: 20 },
        { accountId: 'a', command: (state) => (seen.push(state), null), causedAtMs: 5 },
        { accountId: 'a', command: grant('g1', 10), causedAtMs: 10 },
        { accountId: 'a', command: grant('g1', 10), causedAtMs: 1 },
      ],
      new Map(),
    );
    expect(seen[0]!.status).toBe('open');
    expect(batch.outcomes.map((o) => o.result?.kind ?? null)).toEqual(['accepted', null, 'accepted', 'exists']);
    // The skipped command and the duplicate appended nothing, so their causes do not count.
    expect(batch.causedAtMs.get('a')).toBe(10);
  });
});
