/** Request priorities, as admission and CONTRACTS.md name them. */
export const priorities = ['critical', 'standard', 'batch'] as const;
export type Priority = (typeof priorities)[number];

/**
 * The order in which an overloaded fleet sheds: batch first, then standard, and critical last (and
 * only above its reserve). Restoring walks the same list backwards.
 */
export const shedOrder: readonly Priority[] = ['batch', 'standard', 'critical'];
export const restoreOrder: readonly Priority[] = ['critical', 'standard', 'batch'];

/** One controlled traffic class: the unit a multiplier applies to. */
export interface TrafficClass {
  readonly model: string;
  readonly plan: string;
  readonly priority: Priority;
}

/** The `access.limits.v1` message key for a class: `model|plan|priority`. */
export function classKey(c: TrafficClass): string {
  return `${c.model}|${c.plan}|${c.priority}`;
}

/** Multiplier values are kept to three decimals so that float noise never counts as a change. */
export function roundMultiplier(m: number): number {
  return Math.round(m * 1000) / 1000;
}
