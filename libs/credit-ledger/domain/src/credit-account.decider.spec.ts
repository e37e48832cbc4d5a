import { describe, expect, it } from 'vitest';
import type { CreditAccountCommand } from './credit-account.commands';
import type { Rejection } from './credit-account.decider';
import { ledgerLimits } from './limits';
import {
  adjust,
  adjusted,
  changePlan,
  draw,
  expireDue,
  given,
  grant,
  grantExpired,
  grantPlanPeriod,
  granted,
  openAccount,
  opened,
  planChanged,
  planGranted,
  reservationExpired,
  reserve,
  reserved,
  settle,
  settled,
  t,
  voidReservation,
  voided,
} from './testing';

describe('openAccount', () => {
  it('opens an account on a plan', () => {
    given([]).when(openAccount('pro')).then([opened('pro')]).thenBalance({ plan: 'pro', balanceCredits: 0, version: 1 });
  });

  it('answers exists when the account is already open on that plan', () => {
    given([opened('pro')]).when(openAccount('pro', 5)).thenExists(opened('pro'));
  });

  it('answers conflict when the account is open on another plan (changing plans is changePlan)', () => {
    given([opened('pro')]).when(openAccount('free', 5)).thenConflict();
  });

  it.each([['bad plan'], [''], ['x'.repeat(129)]])('rejects the plan name %j', (plan) => {
    given([]).when(openAccount(plan)).thenRejected('invalid_id');
  });

  it('rejects a now that is not an ISO-8601 instant', () => {
    given([]).when({ type: 'openAccount', data: { plan: 'pro' }, metadata: { now: 'yesterday' } }).thenRejected('invalid_time');
  });
});

describe('changePlan', () => {
  it('changes the plan and records the previous one', () => {
    given([opened('pro')]).when(changePlan('enterprise', 3)).then([planChanged('enterprise', 'pro', 3)]).thenBalance({ plan: 'enterprise' });
  });

  it('answers exists for the current plan', () => {
    given([opened('pro'), planChanged('plus', 'pro', 1)]).when(changePlan('plus', 2)).thenExists(planChanged('plus', 'pro', 1));
  });

  it('rejects an invalid plan name', () => {
    given([opened('pro')]).when(changePlan('no spaces')).thenRejected('invalid_id');
  });
});

describe('every command but openAccount needs an open account', () => {
  const commands: [string, CreditAccountCommand][] = [
    ['changePlan', changePlan('plus')],
    ['grant', grant('g1', 100)],
    ['reserve', reserve('adm-1', 10)],
    ['settle', settle('adm-1', 10)],
    ['void', voidReservation('adm-1')],
    ['expireDue', expireDue(10)],
    ['adjust', adjust('adj-1', 10)],
    ['grantPlanPeriod', grantPlanPeriod('2026-01', 100)],
  ];
  it.each(commands)('%s on an unopened account is account_not_open', (_name, command) => {
    given([]).when(command).thenRejected('account_not_open');
  });
});

describe('grant', () => {
  it.each([
    ['plan', 10],
    ['promo', 20],
    ['enterprise', 30],
    ['purchase', 40],
  ] as const)('a %s grant defaults to priority %i', (source, priority) => {
    given([opened()])
      .when(grant('g1', 100, { source, at: 1 }))
      .then([granted('g1', 100, { source, priority, at: 1 })])
      .thenBalance({ balanceCredits: 100, availableCredits: 100 });
  });

  it('records the given priority, effectiveAt and expiresAt', () => {
    given([opened()])
      .when(grant('g1', 100, { priority: 5, effectiveAt: 0, expiresAt: 600, at: 1 }))
      .then([granted('g1', 100, { priority: 5, effectiveAt: 0, expiresAt: 600, at: 1 })]);
  });

  it('answers exists for the same grant id and body, even after the grant expired', () => {
    const first = granted('g1', 100, { expiresAt: 60, at: 1 });
    given([opened(), first]).when(grant('g1', 100, { expiresAt: 60, at: 120 })).thenExists(first);
  });

  it('answers exists when a retry omits an effectiveAt that was defaulted to the grant time', () => {
    const first = granted('g1', 100, { at: 1 });
    given([opened(), first]).when(grant('g1', 100, { at: 30 })).thenExists(first);
  });

  it('answers exists for a retry of a grant whose credits are all spent', () => {
    const first = granted('g1', 100);
    given([opened(), first, settled('adm-1', { held: 0, actual: 100 }, [draw('g1', 100)], { at: 1 })])
      .when(grant('g1', 100, { at: 2 }))
      .thenExists(first);
  });

  it.each([
    ['other credits', grant('g1', 101)],
    ['other source', grant('g1', 100, { source: 'promo' })],
    ['other priority', grant('g1', 100, { priority: 1 })],
    ['an expiry', grant('g1', 100, { expiresAt: 500 })],
    ['a later effectiveAt', grant('g1', 100, { effectiveAt: 30 })],
  ])('answers conflict for the same grant id with %s', (_name, command) => {
    given([opened(), granted('g1', 100)]).when(command).thenConflict();
  });

  const invalid: [string, CreditAccountCommand, Rejection][] = [
    ['zero credits', grant('g1', 0), 'invalid_amount'],
    ['negative credits', grant('g1', -5), 'invalid_amount'],
    ['fractional credits', grant('g1', 1.5), 'invalid_amount'],
    ['credits above the maximum', grant('g1', ledgerLimits.creditsPerCommandMax + 1), 'invalid_amount'],
    ['a negative priority', grant('g1', 10, { priority: -1 }), 'invalid_priority'],
    ['a priority above the maximum', grant('g1', 10, { priority: ledgerLimits.priorityMax + 1 }), 'invalid_priority'],
    ['a fractional priority', grant('g1', 10, { priority: 2.5 }), 'invalid_priority'],
    ['an unknown source', { ...grant('g1', 10), data: { ...grant('g1', 10).data, source: 'gift' as never } }, 'invalid_source'],
    ['an invalid grant id', grant('g 1', 10), 'invalid_id'],
    ['expiresAt before effectiveAt', grant('g1', 10, { effectiveAt: 100, expiresAt: 50, at: 1 }), 'invalid_time'],
    ['expiresAt in the past', grant('g1', 10, { expiresAt: 5, at: 10 }), 'invalid_time'],
    ['an unparsable effectiveAt', { ...grant('g1', 10), data: { ...grant('g1', 10).data, effectiveAt: 'tomorrow' } }, 'invalid_time'],
    ['an unparsable expiresAt', { ...grant('g1', 10), data: { ...grant('g1', 10).data, expiresAt: '2026-13-45' } }, 'invalid_time'],
  ];
  it.each(invalid)('rejects %s', (_name, command, reason) => {
    given([opened()]).when(command).thenRejected(reason);
  });

  it('keeps a grant out of balance and draws until its effectiveAt', () => {
    const history = [opened(), granted('now', 50), granted('later', 100, { effectiveAt: 30, at: 1 })];
    given(history)
      .when(reserve('adm-1', 80, { at: 10 }))
      .then([reserved('adm-1', 80, [draw('now', 50)], { at: 10, shortfallCredits: 30 })])
      .thenBalance({ balanceCredits: 50, pendingCredits: 100, heldCredits: 80, availableCredits: -30 });
    given(history)
      .when(reserve('adm-1', 80, { at: 30 }))
      .then([reserved('adm-1', 80, [draw('now', 50), draw('later', 30)], { at: 30 })])
      .thenBalance({ balanceCredits: 150, pendingCredits: 0, availableCredits: 70 });
  });

  it('refuses a grant beyond liveGrantsMax', () => {
    const many = Array.from({ length: ledgerLimits.liveGrantsMax }, (_, i) => granted(`g${i}`, 1));
    given([opened(), ...many]).when(grant('one-more', 1)).thenRejected('limit_exceeded');
  });
});

describe('reserve', () => {
  it.each([
    ['priority first', [granted('a', 100, { priority: 40 }), granted('b', 100, { priority: 20 })], ['b', 'a']],
    ['then the earliest expiry', [granted('a', 100, { expiresAt: 500 }), granted('b', 100, { expiresAt: 300 })], ['b', 'a']],
    ['a grant that never expires last', [granted('a', 100), granted('b', 100, { expiresAt: 900 })], ['b', 'a']],
    ['then the oldest', [granted('a', 100), granted('b', 100)], ['a', 'b']],
  ])('draws in burn order: %s', (_name, grants, order) => {
    given([opened(), ...grants])
      .when(reserve('adm-1', 150, { at: 1 }))
      .then([reserved('adm-1', 150, [draw(order[0] ?? '', 100), draw(order[1] ?? '', 50)], { at: 1 })]);
  });

  it('draws only what other holds leave on a grant', () => {
    given([opened(), granted('a', 100), granted('b', 100), reserved('adm-1', 70, [draw('a', 70)], { at: 1 })])
      .when(reserve('adm-2', 50, { at: 2 }))
      .then([reserved('adm-2', 50, [draw('a', 30), draw('b', 20)], { at: 2 })])
      .thenBalance({ balanceCredits: 200, heldCredits: 120, availableCredits: 80 });
  });

  it('records the whole hold when the account cannot cover it, and reports the shortfall', () => {
    const outcome = given([opened(), granted('a', 40)])
      .when(reserve('adm-1', 100, { at: 1 }))
      .then([reserved('adm-1', 100, [draw('a', 40)], { at: 1, shortfallCredits: 60 })])
      .thenBalance({ balanceCredits: 40, heldCredits: 100, availableCredits: -60 });
    expect(outcome.result).toMatchObject({
      reserve: { availableBeforeCredits: 40, shortfallCredits: 60, uncoveredByGrantsCredits: 60 },
    });
  });

  it('counts a positive adjustment as available, though no grant backs it', () => {
    const outcome = given([opened(), adjusted('adj-1', 100)])
      .when(reserve('adm-1', 60, { at: 1 }))
      .then([reserved('adm-1', 60, [], { at: 1 })]);
    expect(outcome.result).toMatchObject({ reserve: { shortfallCredits: 0, uncoveredByGrantsCredits: 60 } });
  });

  it('answers exists for the same admission and body', () => {
    const first = reserved('adm-1', 50, [draw('a', 50)], { at: 1 });
    given([opened(), granted('a', 100), first]).when(reserve('adm-1', 50, { at: 2 })).thenExists(first);
  });

  it.each([
    ['other credits', reserve('adm-1', 60, { at: 2 })],
    ['another expiry', reserve('adm-1', 50, { at: 2, expiresAt: 90 })],
    ['another request', reserve('adm-1', 50, { at: 2, requestId: 'req-9' })],
  ])('answers conflict for the same admission with %s', (_name, command) => {
    given([opened(), granted('a', 100), reserved('adm-1', 50, [draw('a', 50)], { at: 1 })]).when(command).thenConflict();
  });

  it.each([
    ['settled', settled('adm-1', { held: 50, actual: 40 }, [draw('a', 40)], { at: 2 }), 'settled'],
    ['voided', voided('adm-1', 50, 'cancelled', 2), 'voided'],
    ['expired', reservationExpired('adm-1', 50, 60), 'expired'],
  ] as const)('does nothing for an admission already %s', (_name, resolution, expected) => {
    given([opened(), granted('a', 100), reserved('adm-1', 50, [draw('a', 50)], { at: 1 }), resolution])
      .when(reserve('adm-1', 50, { at: 70 }))
      .thenAlreadyResolved(expected);
  });

  it('does nothing for a decision that arrives after its completion was settled directly', () => {
    given([opened(), granted('a', 100), settled('adm-1', { held: 0, actual: 30 }, [draw('a', 30)], { at: 1 })])
      .when(reserve('adm-1', 50, { at: 2 }))
      .thenAlreadyResolved('settled')
      .thenBalance({ balanceCredits: 70, heldCredits: 0 });
  });

  it('records and expires at once a decision whose hold ran out before it arrived', () => {
    given([opened(), granted('a', 100)])
      .when(reserve('adm-1', 50, { at: 10, expiresAt: 5 }))
      .then([reserved('adm-1', 50, [draw('a', 50)], { at: 10, expiresAt: 5 }), reservationExpired('adm-1', 50, 10)])
      .thenBalance({ balanceCredits: 100, heldCredits: 0 });
  });

  const invalid: [string, CreditAccountCommand, Rejection][] = [
    ['zero credits', reserve('adm-1', 0), 'invalid_amount'],
    ['negative credits', reserve('adm-1', -1), 'invalid_amount'],
    ['an invalid admission id', reserve('adm 1', 10), 'invalid_id'],
    ['an invalid request id', reserve('adm-1', 10, { requestId: 'r/1' }), 'invalid_id'],
    ['an unparsable expiresAt', { ...reserve('adm-1', 10), data: { ...reserve('adm-1', 10).data, expiresAt: 'soon' } }, 'invalid_time'],
  ];
  it.each(invalid)('rejects %s', (_name, command, reason) => {
    given([opened(), granted('a', 100)]).when(command).thenRejected(reason);
  });
});

describe('settle', () => {
  const held = [opened(), granted('a', 100, { priority: 10 }), granted('b', 100, { priority: 20 }), reserved('adm-1', 60, [draw('a', 60)], { at: 1 })];

  it('settling for less releases the rest', () => {
    given(held)
      .when(settle('adm-1', 45, { at: 5 }))
      .then([settled('adm-1', { held: 60, actual: 45 }, [draw('a', 45)], { at: 5 })])
      .thenBalance({ balanceCredits: 155, heldCredits: 0, availableCredits: 155, overshootCredits: 0 });
  });

  it('settling for more charges it in full, the extra in burn order, and records the overshoot', () => {
    given(held)
      .when(settle('adm-1', 150, { at: 5 }))
      .then([settled('adm-1', { held: 60, actual: 150 }, [draw('a', 100), draw('b', 50)], { at: 5 })])
      .thenBalance({ balanceCredits: 50, heldCredits: 0, overshootCredits: 90 });
  });

  it('what no grant covers takes the balance below zero', () => {
    given(held)
      .when(settle('adm-1', 260, { at: 5 }))
      .then([settled('adm-1', { held: 60, actual: 260 }, [draw('a', 100), draw('b', 100)], { at: 5 })])
      .thenBalance({ balanceCredits: -60, availableCredits: -60, unallocatedCredits: -60, overshootCredits: 200 });
  });

  it('settling for zero releases the whole hold', () => {
    given(held)
      .when(settle('adm-1', 0, { at: 5 }))
      .then([settled('adm-1', { held: 60, actual: 0 }, [], { at: 5 })])
      .thenBalance({ balanceCredits: 200, heldCredits: 0 });
  });

  it('settles a completion whose decision has not arrived directly, in burn order', () => {
    given([opened(), granted('a', 100, { priority: 10 }), granted('b', 100, { priority: 20 })])
      .when(settle('adm-1', 130, { at: 5 }))
      .then([settled('adm-1', { held: 0, actual: 130 }, [draw('a', 100), draw('b', 30)], { at: 5 })])
      .thenBalance({ balanceCredits: 70, heldCredits: 0 });
  });

  it('charges a completion that arrives after its hold expired directly: the work ran', () => {
    given([...held, reservationExpired('adm-1', 60, 60)])
      .when(settle('adm-1', 30, { at: 70 }))
      .then([settled('adm-1', { held: 0, actual: 30 }, [draw('a', 30)], { at: 70 })])
      .thenBalance({ balanceCredits: 170 });
  });

  it('expires a hold that is past due before settling, then charges directly', () => {
    given(held)
      .when(settle('adm-1', 30, { at: 70 }))
      .then([reservationExpired('adm-1', 60, 60), settled('adm-1', { held: 0, actual: 30 }, [draw('a', 30)], { at: 70 })]);
  });

  it('does not charge a completion after its reservation was voided', () => {
    given([...held, voided('adm-1', 60, 'cancelled', 2)]).when(settle('adm-1', 30, { at: 5 })).thenAlreadyResolved('voided');
  });

  it('answers exists for the same settlement again', () => {
    const first = settled('adm-1', { held: 60, actual: 45 }, [draw('a', 45)], { at: 5 });
    given([...held, first]).when(settle('adm-1', 45, { at: 6 })).thenExists(first);
  });

  it('answers exists for a direct settlement repeated after a late expiry settled it', () => {
    const first = settled('adm-1', { held: 0, actual: 30 }, [draw('a', 30)], { at: 70 });
    given([...held, reservationExpired('adm-1', 60, 60), first]).when(settle('adm-1', 30, { at: 80 })).thenExists(first);
  });

  it.each([
    ['another amount', settle('adm-1', 46, { at: 6 })],
    ['another request', settle('adm-1', 45, { at: 6, requestId: 'req-2' })],
  ])('answers conflict for a settled admission with %s', (_name, command) => {
    given([...held, settled('adm-1', { held: 60, actual: 45 }, [draw('a', 45)], { at: 5 })]).when(command).thenConflict();
  });

  it('answers conflict when the completion names another request than the hold', () => {
    given(held).when(settle('adm-1', 45, { requestId: 'req-other', at: 5 })).thenConflict();
  });

  it.each([
    ['a negative amount', settle('adm-1', -1), 'invalid_amount'],
    ['a fractional amount', settle('adm-1', 0.5), 'invalid_amount'],
    ['an invalid admission id', settle('', 1), 'invalid_id'],
  ] as [string, CreditAccountCommand, Rejection][])('rejects %s', (_name, command, reason) => {
    given(held).when(command).thenRejected(reason);
  });

  it('charges credits a hold kept on a grant that expired meanwhile, and forfeits the rest of them', () => {
    given([opened(), granted('a', 100, { expiresAt: 30 }), granted('b', 100), reserved('adm-1', 60, [draw('a', 60)], { at: 1 })])
      .when(settle('adm-1', 25, { at: 40 }))
      .then([
        grantExpired('a', 40, { at: 30 }),
        settled('adm-1', { held: 60, actual: 25 }, [draw('a', 25)], { at: 40 }),
        grantExpired('a', 35, { at: 40, reason: 'released_after_expiry' }),
      ])
      .thenBalance({ balanceCredits: 100, heldCredits: 0, grants: [expect.objectContaining({ grantId: 'b', remainingCredits: 100 })] });
  });
});

describe('void', () => {
  const held = [opened(), granted('a', 100), reserved('adm-1', 60, [draw('a', 60)], { at: 1 })];

  it('releases the whole hold', () => {
    given(held).when(voidReservation('adm-1', 'timeout', 5)).then([voided('adm-1', 60, 'timeout', 5)]).thenBalance({ heldCredits: 0, availableCredits: 100 });
  });

  it('answers exists for the same void, conflict for another reason', () => {
    const first = voided('adm-1', 60, 'timeout', 5);
    given([...held, first]).when(voidReservation('adm-1', 'timeout', 6)).thenExists(first);
    given([...held, first]).when(voidReservation('adm-1', 'other', 6)).thenConflict();
  });

  it('rejects a void for an admission it has never seen', () => {
    given(held).when(voidReservation('adm-9', 'timeout', 5)).thenRejected('reservation_not_found');
  });

  it('does nothing for a settled reservation', () => {
    given([...held, settled('adm-1', { held: 60, actual: 10 }, [draw('a', 10)], { at: 3 })])
      .when(voidReservation('adm-1', 'timeout', 5))
      .thenAlreadyResolved('settled');
  });

  it.each([
    ['a blank reason', voidReservation('adm-1', '  '), 'invalid_text'],
    ['an overlong reason', voidReservation('adm-1', 'x'.repeat(ledgerLimits.textLengthMax + 1)), 'invalid_text'],
    ['an invalid admission id', voidReservation('a b'), 'invalid_id'],
  ] as [string, CreditAccountCommand, Rejection][])('rejects %s', (_name, command, reason) => {
    given(held).when(command).thenRejected(reason);
  });

  it('forfeits what the hold kept on a grant that expired meanwhile', () => {
    given([opened(), granted('a', 100, { expiresAt: 30 }), reserved('adm-1', 60, [draw('a', 60)], { at: 1 })])
      .when(voidReservation('adm-1', 'timeout', 40))
      .then([grantExpired('a', 40, { at: 30 }), voided('adm-1', 60, 'timeout', 40), grantExpired('a', 60, { at: 40, reason: 'released_after_expiry' })])
      .thenBalance({ balanceCredits: 0, grants: [] });
  });
});

describe('expireDue', () => {
  it('does nothing when nothing is due', () => {
    given([opened(), granted('a', 100, { expiresAt: 100 })]).when(expireDue(50)).then([]);
  });

  it('forfeits what is left on an expired grant', () => {
    given([opened(), granted('a', 100, { expiresAt: 30 }), settled('adm-1', { held: 0, actual: 30 }, [draw('a', 30)], { at: 10 })])
      .when(expireDue(45))
      .then([grantExpired('a', 70, { at: 30 })])
      .thenBalance({ balanceCredits: 0, grants: [] });
  });

  it('expires reservations and grants in time order, each at its own instant', () => {
    given([
      opened(),
      granted('a', 100, { expiresAt: 20 }),
      granted('b', 100),
      reserved('adm-1', 10, [draw('a', 10)], { at: 1, expiresAt: 25 }),
      reserved('adm-2', 10, [draw('a', 10)], { at: 1, expiresAt: 15 }),
    ])
      .when(expireDue(60))
      .then([
        reservationExpired('adm-2', 10, 15),
        grantExpired('a', 90, { at: 20 }),
        reservationExpired('adm-1', 10, 25),
        grantExpired('a', 10, { at: 25, reason: 'released_after_expiry' }),
      ])
      .thenBalance({ balanceCredits: 100, heldCredits: 0 });
  });

  it('at the same instant, a hold ends before its grant, so the grant is forfeited once', () => {
    given([opened(), granted('a', 100, { expiresAt: 30 }), reserved('adm-1', 10, [draw('a', 10)], { at: 1, expiresAt: 30 })])
      .when(expireDue(30))
      .then([reservationExpired('adm-1', 10, 30), grantExpired('a', 100, { at: 30 })]);
  });

  it('keeps credits an open hold has on an expired grant until the hold resolves', () => {
    given([opened(), granted('a', 100, { expiresAt: 30 }), reserved('adm-1', 100, [draw('a', 100)], { at: 1, expiresAt: 90 })])
      .when(expireDue(40))
      .then([])
      .thenBalance({ balanceCredits: 100, heldCredits: 100, availableCredits: 0 });
  });

  it('pays a debt from expiring credits before forfeiting the rest', () => {
    given([opened(), granted('a', 100, { expiresAt: 30 }), adjusted('adj-1', -30, 'chargeback', 1)])
      .when(expireDue(40))
      .then([grantExpired('a', 70, { at: 30, debtRepaidCredits: 30 })])
      .thenBalance({ balanceCredits: 0, unallocatedCredits: 0 });
  });

  it('decides a command stamped before the last event at the last event', () => {
    // Stamped at 10, before grant a's expiry at 30; but the stream is at 50, so a is due, and the
    // forfeiture is recorded at 50 so that occurredAt never goes back.
    given([opened(), granted('a', 100, { expiresAt: 30 }), adjusted('adj-1', 5, 'goodwill', 50)])
      .when(expireDue(10))
      .then([grantExpired('a', 100, { at: 50 })]);
    given([opened(), granted('a', 100), adjusted('adj-1', 5, 'goodwill', 50)])
      .when(adjust('adj-2', 5, 'goodwill', 10))
      .then([adjusted('adj-2', 5, 'goodwill', 50)]);
  });

  it('records what is due before any other accepted command', () => {
    given([opened(), granted('a', 100, { expiresAt: 30 }), granted('b', 100)])
      .when(reserve('adm-1', 120, { at: 40, expiresAt: 100 }))
      .then([grantExpired('a', 100, { at: 30 }), reserved('adm-1', 120, [draw('b', 100)], { at: 40, expiresAt: 100, shortfallCredits: 20 })]);
  });
});

describe('adjust', () => {
  it.each([
    ['a credit', 50, 150],
    ['a debit', -30, 70],
    ['a debit beyond the balance', -130, -30],
  ])('records %s', (_name, credits, balance) => {
    given([opened(), granted('a', 100)])
      .when(adjust('adj-1', credits, 'support', 1))
      .then([adjusted('adj-1', credits, 'support', 1)])
      .thenBalance({ balanceCredits: balance });
  });

  it('answers exists for the same adjustment, conflict for another body', () => {
    const first = adjusted('adj-1', 50, 'support', 1);
    given([opened(), first]).when(adjust('adj-1', 50, 'support', 2)).thenExists(first);
    given([opened(), first]).when(adjust('adj-1', 51, 'support', 2)).thenConflict();
    given([opened(), first]).when(adjust('adj-1', 50, 'other', 2)).thenConflict();
  });

  it.each([
    ['zero credits', adjust('adj-1', 0), 'invalid_amount'],
    ['fractional credits', adjust('adj-1', 1.5), 'invalid_amount'],
    ['credits beyond the maximum', adjust('adj-1', -(ledgerLimits.creditsPerCommandMax + 1)), 'invalid_amount'],
    ['a blank reason', adjust('adj-1', 5, ''), 'invalid_text'],
    ['an invalid id', adjust('adj#1', 5), 'invalid_id'],
  ] as [string, CreditAccountCommand, Rejection][])('rejects %s', (_name, command, reason) => {
    given([opened()]).when(command).thenRejected(reason);
  });
});

describe('grantPlanPeriod', () => {
  it('grants the period under an id derived from it', () => {
    given([opened()])
      .when(grantPlanPeriod('2026-01', 1000, { rolloverCapCredits: 200, expiresAt: 1000, at: 1 }))
      .then([planGranted('2026-01', 1000, { rolloverCapCredits: 200, expiresAt: 1000, at: 1 })])
      .thenBalance({ grants: [expect.objectContaining({ grantId: 'plan:pro:2026-01', source: 'plan', priority: 10 })] });
  });

  it('grants a period once: the same period again is exists, with another body conflict', () => {
    const first = planGranted('2026-01', 1000, { rolloverCapCredits: 200, at: 1 });
    given([opened(), first]).when(grantPlanPeriod('2026-01', 1000, { rolloverCapCredits: 200, at: 5 })).thenExists(first);
    given([opened(), first]).when(grantPlanPeriod('2026-01', 900, { rolloverCapCredits: 200, at: 5 })).thenConflict();
    given([opened(), first]).when(grantPlanPeriod('2026-01', 1000, { rolloverCapCredits: 0, at: 5 })).thenConflict();
  });

  it('a manual grant cannot pass for a plan period', () => {
    given([opened(), granted('plan:pro:2026-01', 1000, { source: 'plan' })])
      .when(grantPlanPeriod('2026-01', 1000))
      .thenConflict();
  });

  it('forfeits earlier plan credits above the rollover cap when the new period arrives', () => {
    given([opened(), planGranted('2026-01', 1000), settled('adm-1', { held: 0, actual: 300 }, [draw('plan:pro:2026-01', 300)], { at: 5 })])
      .when(grantPlanPeriod('2026-02', 1000, { rolloverCapCredits: 500, at: 10 }))
      .then([
        grantExpired('plan:pro:2026-01', 200, { at: 10, reason: 'rolled_over' }),
        planGranted('2026-02', 1000, { rolloverCapCredits: 500, at: 10 }),
      ])
      .thenBalance({ balanceCredits: 1500 });
  });

  it('forfeits nothing when the earlier plan credits are within the cap', () => {
    given([opened(), planGranted('2026-01', 400)])
      .when(grantPlanPeriod('2026-02', 1000, { rolloverCapCredits: 500, at: 10 }))
      .then([planGranted('2026-02', 1000, { rolloverCapCredits: 500, at: 10 })]);
  });

  it('cuts the plan credits that would burn first, and never credits a hold keeps', () => {
    given([
      opened(),
      planGranted('2026-01', 300, { expiresAt: 500 }),
      planGranted('2026-02', 300, { expiresAt: 900 }),
      granted('bought', 300),
      reserved('adm-1', 100, [draw('plan:pro:2026-01', 100)], { at: 1, expiresAt: 400 }),
    ])
      .when(grantPlanPeriod('2026-03', 1000, { rolloverCapCredits: 150, at: 10 }))
      .then([
        grantExpired('plan:pro:2026-01', 200, { at: 10, reason: 'rolled_over' }),
        grantExpired('plan:pro:2026-02', 250, { at: 10, reason: 'rolled_over' }),
        planGranted('2026-03', 1000, { rolloverCapCredits: 150, at: 10 }),
      ])
      .thenBalance({ balanceCredits: 1450, heldCredits: 100 });
  });

  it.each([
    ['an invalid period key', grantPlanPeriod('2026 01', 100), 'invalid_id'],
    ['zero credits', grantPlanPeriod('2026-01', 0), 'invalid_amount'],
    ['a negative rollover cap', grantPlanPeriod('2026-01', 100, { rolloverCapCredits: -1 }), 'invalid_amount'],
    ['an expiry in the past', grantPlanPeriod('2026-01', 100, { expiresAt: 5, at: 10 }), 'invalid_time'],
  ] as [string, CreditAccountCommand, Rejection][])('rejects %s', (_name, command, reason) => {
    given([opened()]).when(command).thenRejected(reason);
  });
});

describe('time', () => {
  it('stamps every event with the canonical UTC form', () => {
    const outcome = given([opened()]).when({ type: 'adjust', data: { adjustmentId: 'adj-1', credits: 5, reason: 'x' }, metadata: { now: '2026-01-01T01:00:00+01:00' } });
    expect(outcome.result.events[0]?.occurredAt).toBe(t(0));
  });
});
