/**
 * What the ledger makes of decisions and completions (pure), table-driven: which command, at what charge, and
 * when an allowance part is given back.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EVENTS, goldenEvent, type AdmissionDecidedV1, type AnyAccessEvent, type UsageRequestCompletedV1 } from '@access/contracts';
import { parsePriceBook } from '@access/catalog';
import { decide, evolveAll, initialState, type CreditAccountCommand, type CreditAccountState } from '@access/credit-ledger-domain';
import { repoRoot } from '@access/platform-config';
import { completionCommand, intakeOf, lateAllowanceRefund, type Intake } from './intake';

const book = parsePriceBook(readFileSync(join(repoRoot, 'config', 'price-book.yaml'), 'utf8'));
if (!book.ok) throw new Error('price book');
const priceBook = book.value;
const now = '2026-11-25T10:00:01.000Z';

function decision(data: Partial<AdmissionDecidedV1>): AnyAccessEvent {
  const golden = goldenEvent(EVENTS.admissionDecided);
  return { ...golden, data: { ...golden.data, ...data } } as AnyAccessEvent;
}
function completion(data: Partial<UsageRequestCompletedV1>): AnyAccessEvent {
  const golden = goldenEvent(EVENTS.usageRequestCompleted);
  return { ...golden, data: { ...golden.data, ...data } } as AnyAccessEvent;
}
const admissionId = goldenEvent(EVENTS.admissionDecided).data.admissionId;

describe('intakeOf', () => {
  it.each<[string, AnyAccessEvent, Partial<Intake>]>([
    ['an admitted decision with a credits part reserves it, remembering its allowance part', decision({}), { kind: 'reserve', credits: 150, allowance: { admissionId, accountId: 'acct-7', allowanceCredits: 100, decidedAt: '2026-11-25T10:00:00.001Z' } }],
    [
      'an admitted decision paid by allowance alone is only remembered',
      decision({ fundedBy: [{ source: 'allowance', window: '5h', credits: 250 }], heldCredits: 0, decidedBy: 'allowance', reservationExpiresAt: null }),
      { kind: 'allowance' },
    ],
    [
      'a rejected decision changes nothing',
      decision({ decision: 'rejected', reason: 'insufficient_credits', decidedBy: 'credits', fundedBy: [], heldCredits: 0, reservationExpiresAt: null }),
      { kind: 'ignore' },
    ],
    ['a completion is priced from its meters (8 s of 1080p = 160)', completion({}), { kind: 'complete', costCredits: 160, status: 'succeeded' }],
    ['a failed completion with nothing metered costs nothing, even without dimensions', completion({ status: 'failed', meters: { video_seconds: 0 }, dimensions: {} }), { kind: 'complete', costCredits: 0 }],
    ['a completion the price book cannot price is invalid', completion({ model: 'no-such-model' }), { kind: 'invalid' }],
  ])('%s', (_name, event, expected) => {
    expect(intakeOf(event, priceBook)).toMatchObject(expected);
  });
});

describe('completionCommand', () => {
  const open = (...commands: CreditAccountCommand[]): CreditAccountState => {
    let state = initialState();
    for (const command of [{ type: 'openAccount', data: { plan: 'pro' }, metadata: { now } } as CreditAccountCommand, ...commands]) {
      const result = decide(command, state);
      if (result.kind !== 'accepted') throw new Error(result.kind);
      state = evolveAll(state, result.events);
    }
    return state;
  };
  const grant: CreditAccountCommand = { type: 'grant', data: { grantId: 'g', credits: 1000, source: 'purchase' }, metadata: { now } };
  const hold: CreditAccountCommand = { type: 'reserve', data: { admissionId, requestId: 'req-42', credits: 150, expiresAt: '2026-11-25T11:00:00.000Z' }, metadata: { now } };
  const complete = (status: 'succeeded' | 'failed' | 'cancelled', costCredits: number) =>
    ({ kind: 'complete', accountId: 'acct-7', admissionId, requestId: 'req-42', status, costCredits }) as const;

  it.each<[string, CreditAccountState, ReturnType<typeof complete>, number | undefined, unknown]>([
    ['settles a hold at the cost net of the allowance part', open(grant, hold), complete('succeeded', 160), 100, { type: 'settle', data: { actualCredits: 60 } }],
    ['settles the whole cost when the decision had no allowance part', open(grant, hold), complete('succeeded', 160), undefined, { type: 'settle', data: { actualCredits: 160 } }],
    ['voids a hold of a failed request with nothing to charge', open(grant, hold), complete('failed', 0), undefined, { type: 'void', data: { reason: 'failed' } }],
    ['settles a cancelled request for what it metered', open(grant, hold), complete('cancelled', 40), undefined, { type: 'settle', data: { actualCredits: 40 } }],
    ['settles directly (0) a failed completion that overtook its decision, so the late decision holds nothing', open(grant), complete('failed', 0), undefined, { type: 'settle', data: { actualCredits: 0 } }],
    ['records nothing when the allowance paid it all and nothing was held', open(grant), complete('succeeded', 90), 100, null],
    ['charges beyond the allowance when there was no hold', open(grant), complete('succeeded', 160), 100, { type: 'settle', data: { actualCredits: 60 } }],
  ])('%s', (_name, state, intake, allowance, expected) => {
    const command = completionCommand(intake, allowance, now)(state);
    if (expected === null) expect(command).toBeNull();
    else expect(command).toMatchObject(expected as object);
  });

  // A completion charged in full before its decision arrived, then a same-content copy (a new event id) after the
  // decision and its allowance part: the copy is the same charge, not a second completion at the net price.
  const chargedInFull = open(grant, { type: 'settle', data: { admissionId, requestId: 'req-42', actualCredits: 160 }, metadata: { now } });
  it.each<[string, ReturnType<typeof complete>, number | undefined, string]>([
    ['a copy after the decision with an allowance part changes nothing', complete('succeeded', 160), 100, 'exists'],
    ['a copy after a decision paid by allowance alone changes nothing', complete('succeeded', 160), 250, 'exists'],
    ['a copy while the decision is still unknown changes nothing', complete('succeeded', 160), undefined, 'exists'],
    ['a completion of the same admission at another cost is a conflict', complete('succeeded', 170), 100, 'conflict'],
  ])('%s', (_name, intake, allowance, outcome) => {
    const command = completionCommand(intake, allowance, now)(chargedInFull);
    expect(command).not.toBeNull();
    expect(decide(command!, chargedInFull).kind).toBe(outcome);
  });
});

describe('lateAllowanceRefund', () => {
  const settledDirectly = (actualCredits: number): CreditAccountState => {
    let state = initialState();
    for (const command of [
      { type: 'openAccount', data: { plan: 'pro' }, metadata: { now } },
      { type: 'grant', data: { grantId: 'g', credits: 1000, source: 'purchase' }, metadata: { now } },
      { type: 'settle', data: { admissionId, requestId: 'req-42', actualCredits }, metadata: { now } },
    ] as CreditAccountCommand[]) {
      const result = decide(command, state);
      if (result.kind !== 'accepted') throw new Error(result.kind);
      state = evolveAll(state, result.events);
    }
    return state;
  };

  it.each([
    ['gives back the allowance part of a completion charged in full before its decision', settledDirectly(160), 100, 100],
    ['gives back at most what was charged', settledDirectly(60), 100, 60],
    ['gives back nothing when nothing was charged', settledDirectly(0), 100, null],
  ])('%s', (_name, state, allowance, refund) => {
    const command = lateAllowanceRefund(admissionId, allowance, now)(state);
    if (refund === null) expect(command).toBeNull();
    else expect(command).toMatchObject({ type: 'adjust', data: { adjustmentId: `allowance:${admissionId}`, credits: refund } });
  });

  it('gives back nothing for a decision whose hold was settled normally', () => {
    let state = initialState();
    for (const command of [
      { type: 'openAccount', data: { plan: 'pro' }, metadata: { now } },
      { type: 'grant', data: { grantId: 'g', credits: 1000, source: 'purchase' }, metadata: { now } },
      { type: 'reserve', data: { admissionId, requestId: 'req-42', credits: 150, expiresAt: '2026-11-25T11:00:00.000Z' }, metadata: { now } },
      { type: 'settle', data: { admissionId, requestId: 'req-42', actualCredits: 60 }, metadata: { now } },
    ] as CreditAccountCommand[]) {
      const result = decide(command, state);
      if (result.kind !== 'accepted') throw new Error(result.kind);
      state = evolveAll(state, result.events);
    }
    expect(lateAllowanceRefund(admissionId, 100, now)(state)).toBeNull();
  });
});
