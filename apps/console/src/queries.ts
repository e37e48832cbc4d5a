/**
 * The console's ClickHouse queries, as pure functions of their inputs. Every value goes through `sql` (the one
 * tested quoting function of platform-clickhouse); ClickHouse 18.16 has no query parameters, no CTEs and no
 * toStartOfInterval, so time buckets are `intDiv` of the epoch second.
 */
import { sql } from '@access/platform-clickhouse';

/** Decisions per bucket by outcome: `admitted_allowance`, `admitted_credits`, or the rejection reason. */
export function decisionsByOutcome(windowS: number, bucketS: number): string {
  return sql`SELECT intDiv(toUInt32(time), ${bucketS}) * ${bucketS} AS t,
  if(decision = 'admitted', concat('admitted_', decided_by), reason) AS outcome,
  count() AS n
FROM admission_decisions
WHERE time >= now() - ${windowS}
GROUP BY t, outcome
ORDER BY t`;
}

/** The load multiplier each (model, plan, priority) decided with, averaged per bucket. */
export function multipliersByClass(windowS: number, bucketS: number): string {
  return sql`SELECT intDiv(toUInt32(time), ${bucketS}) * ${bucketS} AS t,
  concat(model, ' ', plan, ' ', priority) AS class,
  avg(load_multiplier) AS multiplier
FROM admission_decisions
WHERE time >= now() - ${windowS}
GROUP BY t, class
ORDER BY t`;
}

/** Accounts whose id contains `text` (any case), most recently active first; all recent ones for ''. */
export function searchAccounts(text: string, rowsMax: number): string {
  return sql`SELECT account_id, anyLast(plan) AS plan, count() AS decisions, countIf(decision = 'rejected') AS rejections,
  toUInt32(max(time)) AS last_decision
FROM admission_decisions
WHERE time >= now() - 7 * 86400 AND positionCaseInsensitive(account_id, ${text}) > 0
GROUP BY account_id
ORDER BY last_decision DESC
LIMIT ${rowsMax}`;
}

export function accountDecisions(accountId: string, rowsMax: number): string {
  return sql`SELECT toUInt32(time) AS t, time_ms, admission_id, user_id, model, endpoint, priority, decision, reason, decided_by,
  estimated_credits, held_credits, allowance_credits, retry_after_ms, load_multiplier, reputation_factor
FROM admission_decisions
WHERE account_id = ${accountId}
ORDER BY time DESC, time_ms DESC
LIMIT ${rowsMax}`;
}

/**
 * Reservations of the account with no settlement, void or expiry yet, as ClickHouse has the ledger's events
 * (usage-ingest lands them within seconds).
 */
export function accountOpenHolds(accountId: string, rowsMax: number): string {
  return sql`SELECT admission_id, sumIf(held_credits, type = 'ledger.credits_reserved') AS held, toUInt32(min(time)) AS since
FROM ledger_entries
WHERE account_id = ${accountId} AND admission_id != ''
GROUP BY admission_id
HAVING countIf(type IN ('ledger.reservation_settled', 'ledger.reservation_voided', 'ledger.reservation_expired')) = 0 AND held > 0
ORDER BY since DESC
LIMIT ${rowsMax}`;
}

/** Usage per bucket by (model, endpoint), from the usage_minutely rollup (read with sum and GROUP BY). */
export function accountUsage(accountId: string, windowS: number, bucketS: number): string {
  return sql`SELECT intDiv(toUInt32(minute), ${bucketS}) * ${bucketS} AS t, concat(model, ' ', endpoint) AS series,
  sum(requests) AS requests, sum(charged_credits) AS charged_credits
FROM usage_minutely
WHERE account_id = ${accountId} AND minute >= now() - ${windowS}
GROUP BY t, series
ORDER BY t`;
}

/** The users with the most decisions in the last 7 days and the signals their reputation is scored from. */
export function mostActiveUsers(rowsMax: number): string {
  return sql`SELECT account_id, user_id, requests, rejections, rejection_ratio, failure_ratio, burstiness, active_days
FROM abuse_signals
ORDER BY requests DESC
LIMIT ${rowsMax}`;
}

/**
 * Rows of `t, key, value` as chart series: sorted times, and per key one value per time. Without `axis` the times
 * are those of the rows and a key without a row at a time has null there; with `axis` (every bucket of a window)
 * the times are the axis and a missing value is `fill` (0 for counts: no row means nothing happened).
 */
export function toSeries<R>(
  rows: readonly R[],
  t: (r: R) => number,
  key: (r: R) => string,
  value: (r: R) => number,
  axis?: readonly number[],
  fill: number | null = null,
): { t: number[]; series: Record<string, (number | null)[]> } {
  const times = axis === undefined ? [...new Set(rows.map(t))].sort((a, b) => a - b) : [...axis];
  const index = new Map(times.map((time, i) => [time, i]));
  const series: Record<string, (number | null)[]> = {};
  for (const r of rows) {
    const i = index.get(t(r));
    if (i === undefined) continue;
    const values = (series[key(r)] ??= times.map(() => fill));
    values[i] = value(r);
  }
  return { t: times, series };
}

/** Every bucket start (epoch seconds) of the window that ends at `nowS`, oldest first. */
export function bucketsOf(nowS: number, windowS: number, bucketS: number): number[] {
  const last = Math.floor(nowS / bucketS) * bucketS;
  const out: number[] = [];
  for (let b = last - Math.floor(windowS / bucketS) * bucketS; b <= last; b += bucketS) out.push(b);
  return out;
}
