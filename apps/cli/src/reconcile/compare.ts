/**
 * `access reconcile`: the datasets must tell one story, in amounts and not only in presence. Pure comparison of
 * what the command read from the ledger (Postgres), from ClickHouse and from `access.balances.v1` (admission's view
 * of every balance) over one time range; every difference is one Discrepancy that names both sides.
 */

/** A balance as the ledger's projection has it and as its `ledger.balance_changed` message told admission. */
export interface BalanceView {
  version: number;
  balanceCredits: number;
  heldCredits: number;
  availableCredits: number;
}

export interface LedgerSide {
  /** Ledger events published to Kafka (`ledger.*` types) in the range: event id → account. */
  publishedEventIds: Map<string, string>;
  /** admissionId → settled credits (one entry per settlement event; more than one is a double settlement). */
  settlements: Map<string, number[]>;
  /** admissionId → the account its settlements are on. */
  settlementAccounts: Map<string, string>;
  /**
   * admissionId → credits given back because the allowance had paid them (the adjustment `allowance:<admissionId>`
   * for a completion charged in full before its decision arrived): the ledger's net charge is settled − refund.
   */
  allowanceRefunds: Map<string, number>;
  /** admissionIds voided or expired in the range. */
  released: Set<string>;
  /** Account → its row in the projection (account_balances). */
  projectedBalances: Map<string, BalanceView>;
}

export interface ClickhouseSide {
  /** Ledger event ids present in `ledger_entries` (for the range). */
  ledgerEntryIds: Set<string>;
  /** Completed requests in `request_usage`: admissionId → {accountId, chargedCredits, allowanceCredits, status}. */
  usage: Map<string, { accountId: string; chargedCredits: number; allowanceCredits: number; status: string }>;
  /** Account → Σ balance_delta over all of `ledger_entries` (all time). */
  balances: Map<string, number>;
}

export interface KafkaSide {
  /** Account → the newest `ledger.balance_changed` in `access.balances.v1`. */
  latestBalances: Map<string, BalanceView>;
}

export type Discrepancy =
  | { kind: 'ledger_event_missing_in_clickhouse'; eventId: string; accountId: string }
  | { kind: 'settlement_without_usage'; admissionId: string }
  | { kind: 'usage_without_settlement'; admissionId: string; accountId: string; chargedCredits: number }
  | { kind: 'settled_more_than_once'; admissionId: string; times: number }
  | { kind: 'usage_amount_mismatch'; accountId: string; clickhouseCredits: number; ledgerCredits: number; requests: number }
  | { kind: 'balance_mismatch'; accountId: string; ledgerCredits: number; clickhouseCredits: number }
  | { kind: 'balance_message_mismatch'; accountId: string; postgres: BalanceView; kafka: BalanceView | null };

function sameBalance(a: BalanceView, b: BalanceView): boolean {
  return a.balanceCredits === b.balanceCredits && a.heldCredits === b.heldCredits && a.availableCredits === b.availableCredits;
}

export function reconcile(ledger: LedgerSide, clickhouse: ClickhouseSide, kafka: KafkaSide): Discrepancy[] {
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
    if (usage.chargedCredits === 0) continue;
    out.push({ kind: 'usage_without_settlement', admissionId, accountId: usage.accountId, chargedCredits: usage.chargedCredits });
  }

  // Amounts per account, over every admission either side has in the range: what ClickHouse says was charged, and
  // what the ledger charged (its settlements, less allowance refunds).
  const amounts = new Map<string, { clickhouseCredits: number; ledgerCredits: number; requests: number }>();
  const amountOf = (accountId: string) => {
    let sums = amounts.get(accountId);
    if (sums === undefined) amounts.set(accountId, (sums = { clickhouseCredits: 0, ledgerCredits: 0, requests: 0 }));
    return sums;
  };
  for (const usage of clickhouse.usage.values()) {
    const sums = amountOf(usage.accountId);
    sums.clickhouseCredits += usage.chargedCredits;
    sums.requests += 1;
  }
  for (const [admissionId, settled] of ledger.settlements) {
    const accountId = ledger.settlementAccounts.get(admissionId) ?? clickhouse.usage.get(admissionId)?.accountId;
    if (accountId === undefined) continue;
    amountOf(accountId).ledgerCredits += settled.reduce((a, b) => a + b, 0) - (ledger.allowanceRefunds.get(admissionId) ?? 0);
  }
  for (const [accountId, sums] of amounts) {
    if (sums.clickhouseCredits !== sums.ledgerCredits) out.push({ kind: 'usage_amount_mismatch', accountId, ...sums });
  }

  const accounts = new Set([...ledger.projectedBalances.keys(), ...clickhouse.balances.keys()]);
  for (const accountId of accounts) {
    const ledgerCredits = ledger.projectedBalances.get(accountId)?.balanceCredits ?? 0;
    const clickhouseCredits = clickhouse.balances.get(accountId) ?? 0;
    if (ledgerCredits !== clickhouseCredits) out.push({ kind: 'balance_mismatch', accountId, ledgerCredits, clickhouseCredits });
  }

  // Admission's view: the newest balance message must be the projection's row. A message newer than the row read
  // from Postgres is a change made since (the topic was read after the table), not a difference.
  for (const [accountId, postgres] of ledger.projectedBalances) {
    const message = kafka.latestBalances.get(accountId) ?? null;
    if (message !== null && (message.version > postgres.version || (message.version === postgres.version && sameBalance(message, postgres)))) continue;
    out.push({ kind: 'balance_message_mismatch', accountId, postgres, kafka: message });
  }
  return out;
}

function balanceText(b: BalanceView): string {
  return `version ${b.version}, balance ${b.balanceCredits}, held ${b.heldCredits}, available ${b.availableCredits}`;
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
    case 'usage_amount_mismatch':
      return `account ${d.accountId}: ClickHouse request_usage Σ charged_credits ${d.clickhouseCredits}, ledger Σ settled ${d.ledgerCredits} (over ${d.requests} completed requests)`;
    case 'balance_mismatch':
      return `account ${d.accountId}: ledger balance ${d.ledgerCredits}, ClickHouse Σ balance_delta ${d.clickhouseCredits}`;
    case 'balance_message_mismatch':
      return `account ${d.accountId}: Postgres account_balances ${balanceText(d.postgres)}; newest access.balances.v1 message ${d.kafka === null ? 'none' : balanceText(d.kafka)}`;
    default: {
      const _exhaustive: never = d;
      return String(_exhaustive);
    }
  }
}
