/**
 * GCRA (generic cell rate algorithm) with cost-weighted increments: `limit` units per `periodMs`, a
 * burst of `limit`, and no fixed-window boundary bursts.
 *
 * Textbook GCRA keeps one float, the theoretical arrival time (TAT), and admits when
 * `max(TAT, now) + cost·T − now ≤ periodMs` with T = periodMs / limit. A float TAT near 1.8e12 ms has
 * a resolution of 2.4e-4 ms, coarser than the 1/limit ms that separates "allowed" from "denied" at large
 * limits, and T changes whenever a load multiplier does. So the same state is held as two exact
 * integers instead:
 *
 *   atMs   the last time the cell was updated;
 *   debt   the units still "in use" at atMs, times periodMs (TAT = atMs + debt / limit).
 *
 * Time repays `limit` debt per elapsed ms, an admitted request adds `cost × periodMs`, and the bucket
 * is full while debt ≤ limit × periodMs. All values stay below 2^53 (see limits.ts), so every
 * comparison is exact, and `debt` does not depend on `limit`: when a multiplier changes the limit, the
 * units in use stay in use.
 *
 * A request costing more than the whole burst is admitted only when the bucket is empty (debt 0), and
 * then takes proportionally longer to repay: big jobs are possible on small plans, and the long-run
 * rate still never exceeds `limit` per period.
 */

export interface GcraCell {
  readonly atMs: number;
  readonly debt: number;
}

export interface GcraResult {
  allowed: boolean;
  /** The cell after this request: updated to now, and charged if allowed. */
  atMs: number;
  debt: number;
  /** The debt at now before this request (what the cell looks like if the request is not admitted). */
  owedDebt: number;
  /** Whole units that could still be admitted right after this decision. */
  remaining: number;
  /** Milliseconds until the bucket is completely full again. */
  resetMs: number;
  /**
   * 0 when allowed; otherwise the least whole number of ms after which the same request is allowed
   * if nothing else changes (Infinity only when limit < 1).
   */
  retryAfterMs: number;
}

export const EMPTY_CELL: GcraCell = { atMs: 0, debt: 0 };

export function newGcraResult(): GcraResult {
  return { allowed: false, atMs: 0, debt: 0, owedDebt: 0, remaining: 0, resetMs: 0, retryAfterMs: 0 };
}

/** The debt left at nowMs (a clock that went backwards repays nothing). */
export function debtAt(atMs: number, debt: number, nowMs: number, limit: number): number {
  const elapsed = nowMs > atMs ? nowMs - atMs : 0;
  // Compare before multiplying: elapsed × limit can exceed 2^53 after long idle periods.
  return elapsed >= debt / limit ? 0 : debt - elapsed * limit;
}

/**
 * Checks (and, if allowed, charges) `cost` units at `nowMs` against a cell, writing into `out` so the
 * hot path allocates nothing. `limit` and `periodMs` are positive integers and `cost` a non-negative
 * integer, as guaranteed by the catalog and limits.ts.
 */
export function checkInto(out: GcraResult, atMs: number, debt: number, nowMs: number, cost: number, limit: number, periodMs: number): GcraResult {
  const now = nowMs > atMs ? nowMs : atMs;
  if (!(limit >= 1)) {
    out.allowed = false;
    out.atMs = now;
    out.debt = debt;
    out.owedDebt = debt;
    out.remaining = 0;
    out.resetMs = Number.POSITIVE_INFINITY;
    out.retryAfterMs = Number.POSITIVE_INFINITY;
    return out;
  }
  const capacity = limit * periodMs;
  const owed = debtAt(atMs, debt, nowMs, limit);
  const need = cost * periodMs;
  out.atMs = now;
  out.owedDebt = owed;
  if (owed + need <= capacity || owed === 0) {
    const after = owed + need;
    out.allowed = true;
    out.debt = after;
    out.remaining = after >= capacity ? 0 : Math.floor((capacity - after) / periodMs);
    out.resetMs = Math.ceil(after / limit);
    out.retryAfterMs = 0;
    return out;
  }
  out.allowed = false;
  out.debt = owed;
  out.remaining = owed >= capacity ? 0 : Math.floor((capacity - owed) / periodMs);
  out.resetMs = Math.ceil(owed / limit);
  // Within the burst: wait until owed − t·limit + need ≤ capacity. Beyond it: wait until owed is 0.
  // Integer ceil division is exact below 2^53.
  out.retryAfterMs = need <= capacity ? Math.ceil((owed + need - capacity) / limit) : Math.ceil(owed / limit);
  return out;
}

/** checkInto for readers: a fresh result for one cell. */
export function check(cell: GcraCell, nowMs: number, cost: number, limit: number, periodMs: number): GcraResult {
  return checkInto(newGcraResult(), cell.atMs, cell.debt, nowMs, cost, limit, periodMs);
}

/** The theoretical arrival time of a cell under a limit, for display and comparison with textbook GCRA. */
export function tatMs(cell: GcraCell, limit: number): number {
  return cell.atMs + cell.debt / limit;
}

/** Charges `cost` unconditionally (replaying a decision that was already made). */
export function chargeInto(out: GcraResult, atMs: number, debt: number, nowMs: number, cost: number, limit: number, periodMs: number): GcraResult {
  checkInto(out, atMs, debt, nowMs, 0, limit, periodMs);
  out.debt += cost * periodMs;
  out.allowed = true;
  return out;
}
