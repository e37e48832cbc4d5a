import type { Draw } from './credit-account.events';

/** What the burn order needs to know about a grant. */
export type Burnable = {
  readonly grantId: string;
  readonly priority: number;
  readonly expiresAtMs: number | null;
  /** Position in the stream's grant order: older grants have smaller numbers. */
  readonly seq: number;
};

/**
 * The order in which grants are spent: priority ascending, then earliest expiry (a grant that never
 * expires goes last), then the oldest grant. A total order, so draws are deterministic.
 */
export function compareBurnOrder(a: Burnable, b: Burnable): number {
  if (a.priority !== b.priority) return a.priority - b.priority;
  const aExpiry = a.expiresAtMs ?? Number.POSITIVE_INFINITY;
  const bExpiry = b.expiresAtMs ?? Number.POSITIVE_INFINITY;
  if (aExpiry !== bExpiry) return aExpiry < bExpiry ? -1 : 1;
  return a.seq - b.seq;
}

/**
 * Takes `credits` from grants in burn order, each up to its `drawableCredits`. What the grants cannot
 * cover is returned as `uncoveredCredits`.
 */
export function drawInBurnOrder(
  grants: readonly (Burnable & { readonly drawableCredits: number })[],
  credits: number,
): { readonly draws: readonly Draw[]; readonly uncoveredCredits: number } {
  const draws: Draw[] = [];
  let left = credits;
  for (const grant of [...grants].sort(compareBurnOrder)) {
    if (left === 0) break;
    const take = Math.min(left, grant.drawableCredits);
    if (take <= 0) continue;
    draws.push({ grantId: grant.grantId, credits: take });
    left -= take;
  }
  return { draws, uncoveredCredits: left };
}
