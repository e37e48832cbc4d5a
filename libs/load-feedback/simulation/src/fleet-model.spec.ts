import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createFleetModel, toLoadSample } from './fleet-model';

const fleet = createFleetModel({ serviceTimeMs: 2000, meanRequestCredits: 50 });
const capacity = 1000;

function run(demands: readonly number[]) {
  let state = fleet.initialState();
  return demands.map((demand) => {
    const result = fleet.step(state, { demandCreditsPerSecond: demand, capacityCreditsPerSecond: capacity, elapsedMs: 5000 });
    state = result.state;
    return result.observation;
  });
}

describe('FleetModel', () => {
  it.each([
    { demand: 0, utilization: 0 },
    { demand: 500, utilization: 0.5 },
    { demand: 800, utilization: 0.8 },
    { demand: 2000, utilization: 1 },
  ])('reports utilization = demand / capacity (at most 1): $demand credits/s', ({ demand, utilization }) => {
    expect(run([demand])[0]?.utilization).toBe(utilization);
  });

  it('builds a backlog above capacity and drains it below', () => {
    const observations = run([2000, 2000, 500, 500, 500, 500]);
    expect(observations.map((o) => o.backlogCredits)).toEqual([5000, 10_000, 7500, 5000, 2500, 0]);
    expect(observations[1]!.queueDepth).toBeGreaterThan(observations[0]!.queueDepth);
    expect(observations[1]!.servedCreditsPerSecond).toBe(capacity);
  });

  it('grows p95 latency with load: queueing delay (property)', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 3000, noNaN: true }), fc.double({ min: 0, max: 3000, noNaN: true }), (a, b) => {
        const [low, high] = a <= b ? [a, b] : [b, a];
        expect(run([high])[0]!.p95LatencyMs).toBeGreaterThanOrEqual(run([low])[0]!.p95LatencyMs);
      }),
    );
    expect(run([0])[0]!.p95LatencyMs).toBe(Math.round(Math.log(20) * 2000));
    expect(run([900])[0]!.p95LatencyMs).toBeGreaterThan(5 * run([0])[0]!.p95LatencyMs);
  });

  it('never creates or loses work: served + backlog = arrived (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 3000, noNaN: true }), { minLength: 1, maxLength: 30 }), (demands) => {
        const observations = run(demands);
        const arrived = demands.reduce((s, d) => s + d * 5, 0);
        const served = observations.reduce((s, o) => s + o.servedCreditsPerSecond * 5, 0);
        expect(served + observations[observations.length - 1]!.backlogCredits).toBeCloseTo(arrived, 3);
      }),
    );
  });

  it('turns an observation into the load.sampled a fleet publishes', () => {
    const sample = toLoadSample(run([400])[0]!, { model: 'sora-2', region: 'eu-1', capacityCreditsPerSecond: capacity, sampledAtMs: 42 });
    expect(sample).toMatchObject({ model: 'sora-2', region: 'eu-1', utilization: 0.4, capacityCreditsPerSecond: capacity, sampledAtMs: 42 });
  });
});
