import { describe, expect, it } from 'vitest';
import { EVENTS, goldenEvent, type AdmissionDecidedV1, type LoadSampledV1 } from '@access/contracts';
import { defaultFeedbackConfig, type LimitChange } from '@access/load-feedback-domain';
import { FeedbackLoop } from './feedback-loop';

const config = { ...defaultFeedbackConfig, tickIntervalMs: 1_000 };
const iso = (ms: number) => new Date(ms).toISOString();

/** A sample's data and its sample time (the CloudEvent `time`), as `onSample` takes them. */
function sample(utilization: number, atMs: number, extra: Partial<LoadSampledV1> = {}): [LoadSampledV1, number] {
  return [{ model: 'codex-1', region: 'r1', utilization, queueDepth: 0, p95LatencyMs: 100, capacityCreditsPerSecond: 1_000, ...extra }, atMs];
}

const golden = goldenEvent(EVENTS.admissionDecided).data;
function decision(plan: string, priority: AdmissionDecidedV1['priority'], credits: number, atMs: number): AdmissionDecidedV1 {
  return { ...golden, model: 'codex-1', plan, priority, decision: 'admitted', reason: null, estimatedCredits: credits, decidedAt: iso(atMs) };
}

const collect = () => {
  const published: LimitChange[] = [];
  return { published, publish: async (changes: readonly LimitChange[]) => void published.push(...changes) };
};

describe('FeedbackLoop', () => {
  it('given an overloaded fleet with batch and standard demand, cuts batch first and publishes only changes', async () => {
    const loop = new FeedbackLoop({ config, restored: [], nowMs: 0 });
    let id = 0;
    for (let t = 0; t < 1_000; t += 10) {
      loop.onDecision(`e${id++}`, decision('free', 'batch', 6, t), 1_000);
      loop.onDecision(`e${id++}`, decision('pro', 'standard', 6, t), 1_000);
    }
    loop.onSample(...sample(1, 1_000));
    const { published, publish } = collect();
    const result = await loop.tick(1_000, publish);
    expect(result.changes.length).toBeGreaterThan(0);
    expect(published).toEqual(result.changes);
    expect(published.every((c) => c.reason === 'overload')).toBe(true);
    const batch = published.find((c) => c.plan === 'free' && c.priority === 'batch');
    expect(batch?.multiplier).toBeLessThan(1);
    expect(published.some((c) => c.priority === 'critical')).toBe(false);
    expect(batch?.inputs).toMatchObject({ capacityCreditsPerSecond: 1_000, previousMultiplier: 1 });
    // Nothing changed since: nothing more to publish inside the band.
    loop.onSample(...sample(0.8, 2_000));
    const again = collect();
    await loop.tick(2_000, again.publish);
    expect(again.published.filter((c) => c.reason !== 'overload')).toEqual([]);
  });

  it('keeps the previous state when publishing fails, so the next tick publishes the same changes', async () => {
    const loop = new FeedbackLoop({ config, restored: [], nowMs: 0 });
    loop.onSample(...sample(1, 1_000));
    await expect(loop.tick(1_000, async () => Promise.reject(new Error('no broker')))).rejects.toThrow('no broker');
    expect(loop.multipliers().every((m) => m.multiplier === 1)).toBe(true);
    const { published, publish } = collect();
    await loop.tick(1_000, publish);
    expect(published.length).toBeGreaterThan(0);
  });

  it('starts from the restored multipliers', () => {
    const loop = new FeedbackLoop({ config, restored: [{ model: 'codex-1', plan: 'free', priority: 'batch', multiplier: 0 }], nowMs: 0 });
    expect(loop.multipliers().find((m) => m.model === 'codex-1' && m.plan === 'free' && m.priority === 'batch')?.multiplier).toBe(0);
  });

  it('ignores models it does not control, and keeps the newest sample per region', async () => {
    const loop = new FeedbackLoop({ config, restored: [], nowMs: 0 });
    expect(loop.onSample(...sample(1, 1_000, { model: 'other-model' }))).toBe(false);
    expect(loop.onDecision('e1', { ...decision('free', 'batch', 10, 0), model: 'other-model' }, 0)).toBe('unknown_model');
    loop.onSample(...sample(0.8, 2_000));
    loop.onSample(...sample(1, 1_000)); // older: ignored
    const { published, publish } = collect();
    await loop.tick(2_000, publish);
    expect(published).toEqual([]);
  });

  it('reports a model stale once its samples stop, and steps towards the safe defaults after the hold', async () => {
    const loop = new FeedbackLoop({ config, restored: [], nowMs: 0 });
    loop.onSample(...sample(0.8, 0));
    loop.onSample(...sample(0.8, 0, { model: 'sora-2' }));
    expect(loop.staleModels(1_000)).toEqual([]);
    const s = config.staleSamples;
    expect(loop.staleModels(s.staleAfterMs + 1)).toEqual(['sora-2', 'codex-1']);
    const { published, publish } = collect();
    await loop.tick(s.staleAfterMs + s.holdMs + 1_000, publish);
    expect(published.length).toBeGreaterThan(0);
    expect(published.every((c) => c.reason === 'stale_samples' && c.multiplier < 1)).toBe(true);
  });
});
