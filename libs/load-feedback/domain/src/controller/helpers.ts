/** Small pure helpers of the load controller. */
import type { Priority } from '../classes';
import type { LoadSample } from './types';

/** Below this many credits/s a demand or headroom is float noise, not a signal. */
export const creditsEpsilon = 1e-9;

export function innerKey(plan: string, priority: Priority): string {
  return `${plan}|${priority}`;
}

export function isUsable(s: LoadSample): boolean {
  return (
    Number.isFinite(s.utilization) &&
    Number.isFinite(s.capacityCreditsPerSecond) &&
    Number.isFinite(s.sampledAtMs) &&
    Number.isFinite(s.queueDepth) &&
    Number.isFinite(s.p95LatencyMs) &&
    s.utilization >= 0 &&
    s.capacityCreditsPerSecond >= 0
  );
}

export function nonNegative(value: number): number {
  return Number.isFinite(value) && value > 0 ? value : 0;
}

export function clamp(value: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, value));
}

export function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

/** Inputs are published for people to read; six significant digits is all anyone reads. */
export function roundInputs(inputs: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, Number.isFinite(v) ? Number(v.toPrecision(6)) : 0]));
}
