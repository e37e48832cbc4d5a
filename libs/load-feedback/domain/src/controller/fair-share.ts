/** One claimant of a shared budget: it gets at least `min`, at most `max`, and otherwise its weight's share. */
export interface FairShareClaim {
  readonly weight: number;
  readonly min: number;
  readonly max: number;
}

/**
 * Weighted max-min fair division of `budget`: each claim gets `clamp(λ·weight, min, max)` for the one
 * λ at which the allocations sum to the budget. A claim that wants less than its share keeps what it
 * wants and the rest flows to the others, so a small plan is never cut because a large one overloads.
 *
 * A budget below Σmin gives everyone their `min`, above Σmax everyone their `max`: the caller decides
 * what is feasible, this function only divides.
 */
export function weightedFairShare(budget: number, claims: readonly FairShareClaim[]): number[] {
  const mins = claims.map((c) => Math.max(0, c.min));
  const maxs = claims.map((c, i) => Math.max(mins[i] ?? 0, c.max));
  const total = (lambda: number) =>
    claims.reduce((sum, c, i) => sum + clamp(lambda * Math.max(0, c.weight), mins[i] ?? 0, maxs[i] ?? 0), 0);

  if (budget <= sum(mins)) return mins;
  if (budget >= sum(maxs)) return maxs;

  // Σ clamp(λ·w) is piecewise linear in λ with kinks where a claim reaches its min or max; find the
  // segment that contains the budget and solve the linear equation inside it.
  const kinks = [
    ...new Set(
      claims.flatMap((c, i) => (c.weight > 0 ? [(mins[i] ?? 0) / c.weight, (maxs[i] ?? 0) / c.weight] : [])),
    ),
  ].sort((a, b) => a - b);
  let low = 0;
  let lowTotal = total(0);
  let lambda = kinks[kinks.length - 1] ?? 0;
  for (const kink of kinks) {
    const kinkTotal = total(kink);
    if (kinkTotal >= budget) {
      const slope = kink > low ? (kinkTotal - lowTotal) / (kink - low) : 0;
      lambda = slope > 0 ? low + (budget - lowTotal) / slope : kink;
      break;
    }
    low = kink;
    lowTotal = kinkTotal;
  }
  return claims.map((c, i) => clamp(lambda * Math.max(0, c.weight), mins[i] ?? 0, maxs[i] ?? 0));
}

function clamp(value: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, value));
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
