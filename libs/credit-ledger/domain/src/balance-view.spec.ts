import { describe, expect, it } from 'vitest';
import { checkInvariants, toBalanceView } from './balance-view';
import { evolveAll, initialState } from './credit-account.state';
import { draw, granted, opened, reserved, t } from './testing';

describe('toBalanceView', () => {
  it('is empty for an account with no events', () => {
    expect(toBalanceView(initialState())).toEqual({
      plan: null,
      balanceCredits: 0,
      heldCredits: 0,
      availableCredits: 0,
      pendingCredits: 0,
      unallocatedCredits: 0,
      overshootCredits: 0,
      grants: [],
      version: 0,
      asOf: null,
    });
  });

  const state = evolveAll(initialState(), [
    opened('pro'),
    granted('bought', 500),
    granted('promo', 100, { source: 'promo', expiresAt: 30 }),
    granted('next-month', 300, { source: 'plan', effectiveAt: 60 }),
    reserved('adm-1', 150, [draw('promo', 100), draw('bought', 50)], { at: 1, expiresAt: 45 }),
  ]);

  it('lists grants in burn order, with what each holds and whether it counts yet', () => {
    expect(toBalanceView(state)).toEqual({
      plan: 'pro',
      balanceCredits: 600,
      heldCredits: 150,
      availableCredits: 450,
      pendingCredits: 300,
      unallocatedCredits: 0,
      overshootCredits: 0,
      grants: [
        { grantId: 'next-month', source: 'plan', priority: 10, remainingCredits: 300, heldCredits: 0, effectiveAt: t(60), expiresAt: null, status: 'pending' },
        { grantId: 'promo', source: 'promo', priority: 20, remainingCredits: 100, heldCredits: 100, effectiveAt: t(0), expiresAt: t(30), status: 'active' },
        { grantId: 'bought', source: 'purchase', priority: 40, remainingCredits: 500, heldCredits: 50, effectiveAt: t(0), expiresAt: null, status: 'active' },
      ],
      version: 5,
      asOf: t(1),
    });
  });

  it('at a later asOf shows the credits an open hold keeps on an expired grant as expired', () => {
    expect(toBalanceView(state, t(40)).grants.find((g) => g.grantId === 'promo')).toMatchObject({ status: 'expired', remainingCredits: 100 });
  });

  it('at a later asOf applies what is due and what has become effective, without moving the version', () => {
    expect(toBalanceView(state, t(90))).toMatchObject({
      balanceCredits: 800, // 500 bought + 300 next-month; promo's 100 forfeited once adm-1's hold ran out
      heldCredits: 0,
      availableCredits: 800,
      pendingCredits: 0,
      version: 5,
      asOf: t(90),
      grants: [
        expect.objectContaining({ grantId: 'next-month', status: 'active' }),
        expect.objectContaining({ grantId: 'bought', remainingCredits: 500 }),
      ],
    });
  });

  it('treats an asOf before the last event as the last event', () => {
    expect(toBalanceView(state, t(0))).toEqual(toBalanceView(state));
  });

  it('refuses an asOf that is not an instant', () => {
    expect(() => toBalanceView(state, 'later')).toThrow(RangeError);
  });
});

describe('checkInvariants', () => {
  it('finds nothing wrong with a sound state', () => {
    expect(checkInvariants(evolveAll(initialState(), [opened(), granted('a', 10), reserved('adm-1', 5, [draw('a', 5)], { at: 1 })]))).toEqual([]);
  });

  it('names each broken invariant', () => {
    const sound = evolveAll(initialState(), [opened(), granted('a', 10), reserved('adm-1', 5, [draw('a', 5)], { at: 1 })]);
    expect(checkInvariants({ ...sound, balanceCredits: 11 })).toEqual([expect.stringContaining('balance 11')]);
    expect(checkInvariants({ ...sound, heldCredits: 4 })).toEqual([expect.stringContaining('held 4')]);
    expect(checkInvariants({ ...sound, pendingCredits: 1 })).toEqual([expect.stringContaining('pending 1')]);
  });
});
