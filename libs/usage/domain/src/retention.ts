/**
 * Retention without TTL (ClickHouse 18.16 has none): tables are partitioned by month (`toYYYYMM(time)`), and a
 * month is dropped once all of it is older than the retention period. Rows that would land in such a month are not
 * ingested either, so a late or replayed old event cannot resurrect a dropped month.
 */

const dayMs = 86_400_000;

/** Epoch ms of the first instant after the month `yyyymm` (e.g. 202611 → 2026-12-01T00:00:00Z). */
export function monthEndMs(yyyymm: number): number {
  const year = Math.floor(yyyymm / 100);
  const month = yyyymm % 100;
  return Date.UTC(year, month, 1);
}

/** The month partition of an instant. */
export function monthOf(epochMs: number): number {
  const d = new Date(epochMs);
  return d.getUTCFullYear() * 100 + d.getUTCMonth() + 1;
}

export function retentionCutoffMs(nowMs: number, retentionDays: number): number {
  return nowMs - retentionDays * dayMs;
}

/** True when the whole month of `epochMs` is older than the retention period. */
export function isExpired(epochMs: number, nowMs: number, retentionDays: number): boolean {
  return monthEndMs(monthOf(epochMs)) <= retentionCutoffMs(nowMs, retentionDays);
}

/**
 * The partitions (ClickHouse partition ids such as `202611`) to drop. Ids that are not a month are never dropped:
 * a table partitioned some other way is not this function's to judge.
 */
export function expiredPartitions(partitionIds: readonly string[], nowMs: number, retentionDays: number): string[] {
  const cutoff = retentionCutoffMs(nowMs, retentionDays);
  return [...new Set(partitionIds)]
    .filter((id) => /^\d{6}$/.test(id) && Number(id.slice(4)) >= 1 && Number(id.slice(4)) <= 12)
    .filter((id) => monthEndMs(Number(id)) <= cutoff)
    .sort();
}
