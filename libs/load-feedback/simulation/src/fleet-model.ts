import type { LoadSample } from '@access/load-feedback-domain';

/**
 * A model-serving fleet reduced to what the controller sees, so that a simulator (and the closed-loop
 * test) can close the loop without GPUs: admitted demand in, `load.sampled` numbers out.
 *
 * - utilization = demand / capacity (at most 1: a saturated fleet is simply busy);
 * - demand above capacity piles up as a backlog that drains when demand falls below capacity;
 * - latency follows an M/M/1 queue (p95 of an exponential response time, ln 20 · S / (1 − ρ)) plus the
 *   time to drain the backlog. It is a rough model on purpose: what matters for the loop is that
 *   latency and queue grow without bound as demand approaches and passes capacity.
 */
export interface FleetModelParams {
  /** Mean service time of one request on an idle fleet. */
  readonly serviceTimeMs: number;
  /** Mean cost of one request, to turn backlog credits into a queue depth in requests. */
  readonly meanRequestCredits: number;
}

export interface FleetState {
  /** Admitted work not yet served, in credits. */
  readonly backlogCredits: number;
}

export interface FleetObservation {
  readonly utilization: number;
  readonly queueDepth: number;
  readonly p95LatencyMs: number;
  readonly backlogCredits: number;
  readonly servedCreditsPerSecond: number;
}

export interface FleetStepInput {
  readonly demandCreditsPerSecond: number;
  readonly capacityCreditsPerSecond: number;
  readonly elapsedMs: number;
}

export interface FleetModel {
  initialState(): FleetState;
  step(state: FleetState, input: FleetStepInput): { state: FleetState; observation: FleetObservation };
}

/** Queueing formulas diverge at ρ = 1; beyond this the backlog term carries the overload instead. */
const queueingRhoMax = 0.99;

export function createFleetModel(params: FleetModelParams): FleetModel {
  return {
    initialState: () => ({ backlogCredits: 0 }),
    step(state, input) {
      const demand = Math.max(0, finite(input.demandCreditsPerSecond));
      const capacity = Math.max(0, finite(input.capacityCreditsPerSecond));
      const seconds = Math.max(0, finite(input.elapsedMs)) / 1000;
      const arriving = demand * seconds;
      const served = Math.min(capacity * seconds, state.backlogCredits + arriving);
      const backlogCredits = state.backlogCredits + arriving - served;

      const ratio = capacity > 0 ? demand / capacity : demand > 0 ? Number.POSITIVE_INFINITY : 0;
      const rho = Math.min(queueingRhoMax, ratio);
      const drainMs = capacity > 0 ? (backlogCredits / capacity) * 1000 : backlogCredits > 0 ? Number.MAX_SAFE_INTEGER : 0;
      const waitingRequests = (rho * rho) / (1 - rho) + backlogCredits / params.meanRequestCredits;
      return {
        state: { backlogCredits },
        observation: {
          utilization: Math.min(1, ratio),
          queueDepth: Math.round(waitingRequests),
          p95LatencyMs: Math.round((Math.log(20) * params.serviceTimeMs) / (1 - rho) + drainMs),
          backlogCredits,
          servedCreditsPerSecond: seconds > 0 ? served / seconds : 0,
        },
      };
    },
  };
}

/** The observation as the `load.sampled` a fleet would publish for one region. */
export function toLoadSample(
  observation: FleetObservation,
  where: { model: string; region: string; capacityCreditsPerSecond: number; sampledAtMs: number },
): LoadSample {
  return {
    model: where.model,
    region: where.region,
    utilization: observation.utilization,
    queueDepth: observation.queueDepth,
    p95LatencyMs: observation.p95LatencyMs,
    capacityCreditsPerSecond: where.capacityCreditsPerSecond,
    sampledAtMs: where.sampledAtMs,
  };
}

function finite(value: number): number {
  return Number.isFinite(value) ? value : 0;
}
