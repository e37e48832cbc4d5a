/**
 * `access reconcile`: the three datasets must tell one story. Pure comparison of what the command read from
 * the ledger (Postgres) and from ClickHouse over one time range; every difference is one Discrepancy.
 */
export interface LedgerSide {
  /** Ledger events published to Kafka (`ledger.*` types) in the range: event id → account. */
  publishedEventIds: Map<string, string>;
  /** admissionId → settled credits (one entry per settlement event; more than one is a double settlement). */
  settlements: Map<string, number[]>;
  /** admissionIds voided or expired in the range. */
  released: Set<string>;
  /** admissionIds the ledger knows were funded (at least partly) by allowance, with that part. */
  allowance: Map<string, number>;
  /** Account → balance in the projection (account_balances). */
  projectedBalances: Map<string, number>;
}

export interface ClickhouseSide {
  /** Ledger event ids present in `ledger_entries` (for the range). */
  ledgerEntryIds: Set<string>;
  /** Completed requests in `request_usage`: admissionId → {accountId, chargedCredits, status}. */
  usage: Map<string, { accountId: string; chargedCredits: number; status: string }>;
  /** Account → Σ balance_delta over all of `ledger_entries` (all time). */
  balances: Map<string, number>;
}

export type Discrepancy =
  | { kind: 'ledger_event_missing_in_clickhouse'; eventId: string; accountId: string }
  | { kind: 'settlement_without_usage'; admissionId: string }
  | { kind: 'usage_without_settlement'; admissionId: string; accountId: string; chargedCredits: number }
  | { kind: 'settled_more_than_once'; admissionId: string; times: number }
  | { kind: 'balance_mismatch'; accountId: string; ledgerCredits: number; clickhouseCredits: number };

export function reconcile(ledger: LedgerSide, clickhouse: ClickhouseSide): Discrepancy[] {
  const out: Discrepancy[] = [];
  for (const [eventId, accountId] of ledger.publishedEventIds) {
    if (!clickhouse.ledgerEntryIds.has(eventId)) out.push({ kind: 'ledger_event_missing_in_clickhouse', eventId, accountId });
  }
  for (const [admissionId, amounts] of ledger.settlements) {
    if (amounts.length > 1) out.push({ kind: 'settled_more_than_once', admissionId, times: amounts.length });
    if (!clickhouse.usage.has(admissionId)) out.push({ kind: 'settlement_without_usage', admissionId });
  }
  for (const [admissionId, usage] of clickhouse.usage) {
    if (ledger.settlements.has(admissionId) || ledger.released.has(admissionId)) continue;
    // Paid entirely by the included allowance (or free): nothing for the ledger to settle.
    const allowance = ledger.allowance.get(admissionId) ?? 0;
    if (usage.chargedCredits <= allowance) continue;
    out.push({ kind: 'usage_without_settlement', admissionId, accountId: usage.accountId, chargedCredits: usage.chargedCredits });
  }
  const accounts = new Set([...ledger.projectedBalances.keys(), ...clickhouse.balances.keys()]);
  for (const accountId of accounts) {
    const ledgerCredits = ledger.projectedBalances.get(accountId) ?? 0;
    const clickhouseCredits = clickhouse.balances.get(accountId) ?? 0;
    if (ledgerCredits !== clickhouseCredits) out.push({ kind: 'balance_mismatch', accountId, ledgerCredits, clickhouseCredits });
  }
  return out;
}

export function describe(d: Discrepancy): string {
  switch (d.kind) {
    case 'ledger_event_missing_in_clickhouse':
      return `ledger event ${d.eventId} (account ${d.accountId}) is not in ClickHouse ledger_entries`;
    case 'settlement_without_usage':
      return `admission ${d.admissionId} was settled in the ledger but has no row in request_usage`;
    case 'usage_without_settlement':
      return `admission ${d.admissionId} (account ${d.accountId}) completed for ${d.chargedCredits} credits but the ledger has no settlement or release`;
    case 'settled_more_than_once':
      return `admission ${d.admissionId} was settled ${d.times} times`;
    case 'balance_mismatch':
      return `account ${d.accountId}: ledger balance ${d.ledgerCredits}, ClickHouse Σ balance_delta ${d.clickhouseCredits}`;
    default: {
      const _exhaustive: never = d;
      return String(_exhaustive);
    }
  }
}
