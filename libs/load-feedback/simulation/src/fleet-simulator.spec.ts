import { describe, expect, it } from 'vitest';
import { goldenEvent, EVENTS } from '@access/contracts';
import { FleetSimulator } from './fleet-simulator';

const decided = goldenEvent(EVENTS.admissionDecided).data;
const completed = goldenEvent(EVENTS.usageRequestCompleted).data;
const fleet = { model: 'codex-1', region: 'sim-1', capacityCreditsPerSecond: 100, serviceTimeMs: 1_000, meanRequestCredits: 10 };

function admitted(id: string, credits: number, extra: Partial<typeof decided> = {}) {
  return { ...decided, model: 'codex-1', decision: 'admitted' as const, reason: null, admissionId: id, estimatedCredits: credits, ...extra };
}

describe('FleetSimulator', () => {
  it('given admitted demand at half of capacity, samples utilization 0.5 for that model', () => {
    const sim = new FleetSimulator([fleet], 0);
    sim.onDecision('e1', admitted('a1', 30));
    sim.onDecision('e2', admitted('a2', 20));
    const [sample] = sim.tick(1_000);
    expect(sample).toMatchObject({ model: 'codex-1', region: 'sim-1', utilization: 0.5, capacityCreditsPerSecond: 100 });
  });

  it('ignores rejections, other models and redelivered decisions', () => {
    const sim = new FleetSimulator([fleet], 0);
    expect(sim.onDecision('e1', admitted('a1', 50))).toBe(true);
    expect(sim.onDecision('e1', admitted('a1', 50))).toBe(false);
    expect(sim.onDecision('e2', admitted('a2', 50, { model: 'sora-2' }))).toBe(false);
    expect(sim.onDecision('e3', { ...decided, model: 'codex-1', decision: 'rejected' })).toBe(false);
    expect(sim.tick(1_000)[0]?.utilization).toBe(0.5);
  });

  it('saturates at 1 under overload and reports a growing queue and latency', () => {
    const sim = new FleetSimulator([fleet], 0);
    let previous = { queueDepth: 0, p95LatencyMs: 0 };
    for (let t = 1; t <= 3; t++) {
      sim.onDecision(`e${t}`, admitted(`a${t}`, 300));
      const [s] = sim.tick(t * 1_000);
      expect(s?.utilization).toBe(1);
      expect(s!.queueDepth).toBeGreaterThan(previous.queueDepth);
      expect(s!.p95LatencyMs).toBeGreaterThan(previous.p95LatencyMs);
      previous = s!;
    }
  });

  it('ends a request in flight when its completion arrives', () => {
    const sim = new FleetSimulator([fleet], 0);
    sim.onDecision('e1', admitted(completed.admissionId, 10));
    expect(sim.inFlightByModel().get('codex-1')).toBe(1);
    expect(sim.onCompleted(completed)).toBe(true);
    expect(sim.inFlightByModel().get('codex-1')).toBe(0);
  });
});
