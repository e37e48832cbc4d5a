import { describe as suite, expect, it } from 'vitest';
import { reconcile, describe as describeDiscrepancy, type BalanceView, type ClickhouseSide, type KafkaSide, type LedgerSide } from './compare';

const balance = (balanceCredits: number, version = 4, heldCredits = 0): BalanceView => ({ version, balanceCredits, heldCredits, availableCredits: balanceCredits - heldCredits });

function ledger(overrides: Partial<LedgerSide> = {}): LedgerSide {
  return {
    publishedEventIds: new Map([['e1', 'a1'], ['e2', 'a1']]),
    settlements: new Map([['adm-1', [40]], ['adm-4', [50]]]),
    settlementAccounts: new Map([['adm-1', 'a1'], ['adm-4', 'a1']]),
    // adm-4 was charged 50 before its decision (allowance 20) arrived; 20 came back as an adjustment.
    allowanceRefunds: new Map([['adm-4', 20]]),
    released: new Set(['adm-2']),
    projectedBalances: new Map([['a1', balance(960)]]),
    ...overrides,
  };
}
function clickhouse(overrides: Partial<ClickhouseSide> = {}): ClickhouseSide {
  return {
    ledgerEntryIds: new Set(['e1', 'e2']),
    usage: new Map([
      ['adm-1', { accountId: 'a1', chargedCredits: 40, allowanceCredits: 0, status: 'succeeded' }],
      ['adm-2', { accountId: 'a1', chargedCredits: 0, allowanceCredits: 0, status: 'failed' }],
      ['adm-3', { accountId: 'a1', chargedCredits: 0, allowanceCredits: 25, status: 'succeeded' }],
      ['adm-4', { accountId: 'a1', chargedCredits: 30, allowanceCredits: 20, status: 'succeeded' }],
    ]),
    balances: new Map([['a1', 960]]),
    ...overrides,
  };
}
const kafka = (overrides: Partial<KafkaSide> = {}): KafkaSide => ({ latestBalances: new Map([['a1', balance(960)]]), ...overrides });

suite('reconcile', () => {
  it('finds nothing when the datasets agree (allowance-funded usage needs no settlement; refunds net out)', () => {
    expect(reconcile(ledger(), clickhouse(), kafka())).toEqual([]);
  });

  it('given a balance message newer than the projection read before it, then no difference (a change since)', () => {
    expect(reconcile(ledger(), clickhouse(), kafka({ latestBalances: new Map([['a1', balance(900, 5)]]) }))).toEqual([]);
  });

  it.each([
    ['a ledger event missing in ClickHouse', ledger(), clickhouse({ ledgerEntryIds: new Set(['e1']) }), kafka(), ['ledger_event_missing_in_clickhouse']],
    ['a double settlement', ledger({ settlements: new Map([['adm-1', [40, 40]], ['adm-4', [50]]]) }), clickhouse(), kafka(), ['settled_more_than_once', 'usage_amount_mismatch']],
    [
      'a settlement without usage',
      ledger({ settlements: new Map([['adm-1', [40]], ['adm-4', [50]], ['adm-9', [5]]]), settlementAccounts: new Map([['adm-1', 'a1'], ['adm-4', 'a1'], ['adm-9', 'a1']]) }),
      clickhouse(), kafka(), ['settlement_without_usage', 'usage_amount_mismatch'],
    ],
    [
      'charged usage without settlement',
      ledger(),
      clickhouse({ usage: new Map([...clickhouse().usage, ['adm-5', { accountId: 'a1', chargedCredits: 7, allowanceCredits: 0, status: 'succeeded' }]]) }),
      kafka(), ['usage_without_settlement', 'usage_amount_mismatch'],
    ],
    [
      'a wrong amount in ClickHouse',
      ledger(),
      clickhouse({ usage: new Map([...clickhouse().usage, ['adm-1', { accountId: 'a1', chargedCredits: 45, allowanceCredits: 0, status: 'succeeded' }]]) }),
      kafka(), ['usage_amount_mismatch'],
    ],
    ['a balance mismatch', ledger(), clickhouse({ balances: new Map([['a1', 950]]) }), kafka(), ['balance_mismatch']],
    ['an account only ClickHouse knows', ledger(), clickhouse({ balances: new Map([['a1', 960], ['a2', 5]]) }), kafka(), ['balance_mismatch']],
    ['a balance message behind the projection', ledger(), clickhouse(), kafka({ latestBalances: new Map([['a1', balance(1000, 3)]]) }), ['balance_message_mismatch']],
    ['a balance message with other amounts at the same version', ledger(), clickhouse(), kafka({ latestBalances: new Map([['a1', balance(960, 4, 10)]]) }), ['balance_message_mismatch']],
    ['an account without a balance message', ledger(), clickhouse(), kafka({ latestBalances: new Map() }), ['balance_message_mismatch']],
  ] as const)('reports %s', (_name, l, c, k, kinds) => {
    const found = reconcile(l, c, k);
    expect(found.map((d) => d.kind)).toEqual(kinds);
    for (const d of found) expect(describeDiscrepancy(d)).toMatch(/\S/);
  });

  it('given a wrong amount, then the line names the account and both sides', () => {
    const usage = new Map([...clickhouse().usage, ['adm-1', { accountId: 'a1', chargedCredits: 45, allowanceCredits: 0, status: 'succeeded' }]]);
    const [found] = reconcile(ledger(), clickhouse({ usage }), kafka());
    expect(describeDiscrepancy(found!)).toBe('account a1: ClickHouse request_usage Σ charged_credits 75, ledger Σ settled 70 (over 4 completed requests)');
  });
});
