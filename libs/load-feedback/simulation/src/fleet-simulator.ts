import type { AdmissionDecidedV1, LoadSampledV1, UsageRequestCompletedV1 } from '@access/contracts';
import { createFleetModel, toLoadSample, type FleetModel, type FleetState } from './fleet-model';

export interface SimulatedFleet {
  readonly model: string;
  readonly region: string;
  readonly capacityCreditsPerSecond: number;
  /** Mean service time of one request on an idle fleet (latency model). */
  readonly serviceTimeMs: number;
  /** Mean credits of one request (turns backlog credits into a queue depth). */
  readonly meanRequestCredits: number;
}

/** Named maximums of the simulator's memory. */
export const fleetSimulatorLimits = {
  fleetsMax: 64,
  /** Admitted requests tracked until their completion arrives; the oldest are forgotten first. */
  inFlightMax: 100_000,
  /** Decision ids remembered to count a redelivered decision once. */
  seenIdsMax: 100_000,
} as const;

interface FleetRun {
  readonly spec: SimulatedFleet;
  readonly model: FleetModel;
  state: FleetState;
  arrivingCredits: number;
}

/**
 * A model-serving fleet for this machine: what admission lets through (admitted `admission.decided`)
 * loads the domain's FleetModel, and every tick yields the `load.sampled` the fleet would publish.
 * Completions (`usage.request_completed`) end requests in flight, so the simulator can report how many
 * admitted requests are still running. Pure: time comes in, samples come out.
 */
export class FleetSimulator {
  private readonly fleets = new Map<string, FleetRun>();
  private readonly inFlight = new Map<string, { model: string; credits: number }>();
  private readonly seen = new Set<string>();
  private lastTickMs: number;

  constructor(fleets: readonly SimulatedFleet[], nowMs: number) {
    if (fleets.length === 0 || fleets.length > fleetSimulatorLimits.fleetsMax) {
      throw new RangeError(`between 1 and ${fleetSimulatorLimits.fleetsMax} fleets`);
    }
    for (const spec of fleets) {
      if (this.fleets.has(spec.model)) throw new RangeError(`model ${spec.model} configured twice`);
      const model = createFleetModel({ serviceTimeMs: spec.serviceTimeMs, meanRequestCredits: spec.meanRequestCredits });
      this.fleets.set(spec.model, { spec, model, state: model.initialState(), arrivingCredits: 0 });
    }
    this.lastTickMs = nowMs;
  }

  onDecision(eventId: string, data: AdmissionDecidedV1): boolean {
    const fleet = this.fleets.get(data.model);
    if (fleet === undefined || data.decision !== 'admitted' || this.seen.has(eventId)) return false;
    remember(this.seen, eventId, fleetSimulatorLimits.seenIdsMax);
    fleet.arrivingCredits += data.estimatedCredits;
    this.inFlight.set(data.admissionId, { model: data.model, credits: data.estimatedCredits });
    if (this.inFlight.size > fleetSimulatorLimits.inFlightMax) {
      const oldest = this.inFlight.keys().next().value;
      if (oldest !== undefined) this.inFlight.delete(oldest);
    }
    return true;
  }

  onCompleted(data: UsageRequestCompletedV1): boolean {
    return this.inFlight.delete(data.admissionId);
  }

  /** Admitted requests whose completion has not arrived, per model. */
  inFlightByModel(): Map<string, number> {
    const out = new Map<string, number>([...this.fleets.keys()].map((m) => [m, 0]));
    for (const r of this.inFlight.values()) out.set(r.model, (out.get(r.model) ?? 0) + 1);
    return out;
  }

  /** Serves what arrived since the last tick and returns one `load.sampled` per fleet. */
  tick(nowMs: number): LoadSampledV1[] {
    const elapsedMs = Math.max(1, nowMs - this.lastTickMs);
    this.lastTickMs = nowMs;
    const samples: LoadSampledV1[] = [];
    for (const fleet of this.fleets.values()) {
      const { capacityCreditsPerSecond, model, region } = fleet.spec;
      const stepped = fleet.model.step(fleet.state, {
        demandCreditsPerSecond: fleet.arrivingCredits / (elapsedMs / 1000),
        capacityCreditsPerSecond,
        elapsedMs,
      });
      fleet.state = stepped.state;
      fleet.arrivingCredits = 0;
      const sample = toLoadSample(stepped.observation, { model, region, capacityCreditsPerSecond, sampledAtMs: nowMs });
      samples.push({
        model,
        region,
        utilization: sample.utilization,
        queueDepth: sample.queueDepth,
        p95LatencyMs: sample.p95LatencyMs,
        capacityCreditsPerSecond,
      });
    }
    return samples;
  }
}

function remember(set: Set<string>, id: string, max: number): void {
  set.add(id);
  if (set.size > max) {
    const oldest = set.values().next().value;
    if (oldest !== undefined) set.delete(oldest);
  }
}
