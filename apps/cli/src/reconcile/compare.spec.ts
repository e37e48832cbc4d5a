import { describe as suite, expect, it } from 'vitest';
import { reconcile, describe as describeDiscrepancy, type ClickhouseSide, type LedgerSide } from './compare';

function ledger(overrides: Partial<LedgerSide> = {}): LedgerSide {
  return {
    publishedEventIds: new Map([['e1', 'a1'], ['e2', 'a1']]),
    settlements: new Map([['adm-1', [40]]]),
    released: new Set(['adm-2']),
    allowance: new Map([['adm-3', 30]]),
    projectedBalances: new Map([['a1', 960]]),
    ...overrides,
  };
}
function clickhouse(overrides: Partial<ClickhouseSide> = {}): ClickhouseSide {
  return {
    ledgerEntryIds: new Set(['e1', 'e2']),
    usage: new Map([
      ['adm-1', { accountId: 'a1', chargedCredits: 40, status: 'succeeded' }],
      ['adm-2', { accountId: 'a1', chargedCredits: 0, status: 'failed' }],
      ['adm-3', { accountId: 'a1', chargedCredits: 25, status: 'succeeded' }],
    ]),
    balances: new Map([['a1', 960]]),
    ...overrides,
  };
}

suite('reconcile', () => {
  it('finds nothing when the datasets agree (allowance-funded usage needs no settlement)', () => {
    expect(reconcile(ledger(), clickhouse())).toEqual([]);
  });

  it.each([
    ['a ledger event missing in ClickHouse', ledger(), clickhouse({ ledgerEntryIds: new Set(['e1']) }), 'ledger_event_missing_in_clickhouse'],
    ['a double settlement', ledger({ settlements: new Map([['adm-1', [40, 40]]]) }), clickhouse(), 'settled_more_than_once'],
    ['a settlement without usage', ledger({ settlements: new Map([['adm-1', [40]], ['adm-9', [5]]]) }), clickhouse(), 'settlement_without_usage'],
    ['usage beyond the allowance without settlement', ledger({ allowance: new Map([['adm-3', 10]]) }), clickhouse(), 'usage_without_settlement'],
    ['a balance mismatch', ledger(), clickhouse({ balances: new Map([['a1', 950]]) }), 'balance_mismatch'],
    ['an account only ClickHouse knows', ledger(), clickhouse({ balances: new Map([['a1', 960], ['a2', 5]]) }), 'balance_mismatch'],
  ] as const)('reports %s', (_name, l, c, kind) => {
    const found = reconcile(l, c);
    expect(found.map((d) => d.kind)).toEqual([kind]);
    expect(describeDiscrepancy(found[0]!)).toMatch(/\S/);
  });
});
