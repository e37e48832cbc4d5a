import { describe, expect, it } from 'vitest';
import { toBalanceView } from './balance-view';
import type { CreditAccountEvent } from './credit-account.events';
import { evolveAll, initialState } from './credit-account.state';
import {
  adjusted,
  draw,
  grantExpired,
  granted,
  opened,
  reservationExpired,
  reserved,
  settled,
  t,
  voided,
} from './testing';
import { verifyStream } from './verify-stream';

const stream: CreditAccountEvent[] = [
  opened('pro'),
  granted('a', 100, { priority: 10, expiresAt: 50 }),
  granted('b', 200, { priority: 20 }),
  granted('later', 70, { effectiveAt: 500, at: 1 }),
  reserved('adm-1', 60, [draw('a', 60)], { at: 2 }),
  settled('adm-1', { held: 60, actual: 90 }, [draw('a', 60), draw('b', 30)], { at: 3 }),
  reserved('adm-2', 20, [draw('a', 20)], { at: 4 }),
  adjusted('adj-1', -5, 'chargeback', 5),
  grantExpired('a', 20, { at: 50 }),
  reservationExpired('adm-2', 20, 60),
  grantExpired('a', 20, { at: 60, reason: 'released_after_expiry' }),
];
const state = evolveAll(initialState(), stream);

describe('verifyStream', () => {
  it('agrees with the projection evolve builds for a sound stream', () => {
    const report = verifyStream(stream, toBalanceView(state));
    expect(report).toMatchObject({ ok: true, mismatches: [], problems: [] });
    expect(report.recomputed).toEqual({
      balanceCredits: 100 + 200 - 90 - 40 - 5,
      heldCredits: 0,
      availableCredits: 165,
      pendingCredits: 70,
      version: 11,
      asOf: t(60),
      grants: [
        { grantId: 'b', remainingCredits: 170, heldCredits: 0 },
        { grantId: 'later', remainingCredits: 70, heldCredits: 0 },
      ],
    });
  });

  it.each([
    ['balance', { balanceCredits: 166 }, 'balanceCredits'],
    ['held', { heldCredits: 1 }, 'heldCredits'],
    ['available', { availableCredits: 0 }, 'availableCredits'],
    ['version', { version: 10 }, 'version'],
    ['pending', { pendingCredits: 0 }, 'pendingCredits'],
    ['asOf', { asOf: t(59) }, 'asOf'],
    ['a grant', { grants: [{ grantId: 'b', remainingCredits: 171 }, { grantId: 'later', remainingCredits: 70 }] }, 'grants.b.remainingCredits'],
    ['a missing grant', { grants: [{ grantId: 'b', remainingCredits: 170 }] }, 'grants.later.remainingCredits'],
  ])('reports a projection that is wrong about %s', (_name, wrong, field) => {
    const report = verifyStream(stream, { ...toBalanceView(state), ...wrong });
    expect(report.ok).toBe(false);
    expect(report.mismatches.map((m) => m.field)).toEqual([field]);
  });

  const base = [opened('pro'), granted('a', 100), reserved('adm-1', 60, [draw('a', 60)], { at: 1 })];
  it.each([
    ['an event before the account opened', [granted('a', 100), opened('pro', 1)], 1],
    ['time going back', [opened('pro', 5), granted('a', 100, { at: 4 })], 2],
    ['a grant recorded twice', [opened('pro'), granted('a', 100), granted('a', 100)], 3],
    ['a draw on an unknown grant', [opened('pro'), reserved('adm-1', 10, [draw('x', 10)])], 2],
    ['a hold larger than its grant has', [opened('pro'), granted('a', 10), reserved('adm-1', 20, [draw('a', 20)])], 3],
    ['draws above the hold', [opened('pro'), granted('a', 100), reserved('adm-1', 10, [draw('a', 20)])], 3],
    ['a reservation recorded twice', [...base, reserved('adm-1', 60, [], { at: 2 })], 4],
    ['a settlement with the wrong hold', [...base, settled('adm-1', { held: 50, actual: 50 }, [draw('a', 50)], { at: 2 })], 4],
    ['a settlement settled twice', [...base, settled('adm-1', { held: 60, actual: 10 }, [draw('a', 10)], { at: 2 }), settled('adm-1', { held: 0, actual: 10 }, [draw('a', 10)], { at: 3 })], 5],
    [
      'a settlement with a wrong release',
      [...base, { ...settled('adm-1', { held: 60, actual: 10 }, [draw('a', 10)], { at: 2 }), data: { ...settled('adm-1', { held: 60, actual: 10 }, [draw('a', 10)]).data, releasedCredits: 0 } }],
      4,
    ],
    ['draws above the actual cost', [...base, settled('adm-1', { held: 60, actual: 10 }, [draw('a', 20)], { at: 2 })], 4],
    ['a void without a reservation', [opened('pro'), voided('adm-1', 10)], 2],
    ['a forfeiture of more than the grant has', [opened('pro'), granted('a', 100), grantExpired('a', 101, { at: 1 })], 3],
    ['a forfeiture of held credits', [...base, grantExpired('a', 50, { at: 2 })], 4],
    ['an adjustment recorded twice', [opened('pro'), adjusted('x', 5), adjusted('x', 5)], 3],
  ] as [string, CreditAccountEvent[], number][])('reports a stream with %s, at its version', (_name, events, version) => {
    const projection = toBalanceView(evolveAll(initialState(), events));
    const report = verifyStream(events, projection);
    expect(report.ok).toBe(false);
    expect(report.problems.map((p) => p.version)).toContain(version);
  });

  it('is independent of evolve: a projection folded by a broken evolve is caught', () => {
    const honest = toBalanceView(state);
    const drifted = { ...honest, balanceCredits: honest.balanceCredits + 20, availableCredits: honest.availableCredits + 20 };
    expect(verifyStream(stream, drifted).mismatches.map((m) => m.field)).toEqual(['balanceCredits', 'availableCredits']);
  });
});
