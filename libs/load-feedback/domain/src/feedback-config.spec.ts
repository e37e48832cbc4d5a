import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { defaultFeedbackConfig } from './default-config';
import { feedbackConfigSchema, parseFeedbackConfig, type FeedbackConfig } from './feedback-config';

const shippedPath = join(dirname(fileURLToPath(import.meta.url)), '../../../../config/feedback.yaml');

function withChange(change: (c: FeedbackConfig) => void): string {
  const copy = structuredClone(defaultFeedbackConfig);
  change(copy);
  return stringify(copy);
}

describe('parseFeedbackConfig', () => {
  it('accepts the shipped config/feedback.yaml', () => {
    const result = parseFeedbackConfig(readFileSync(shippedPath, 'utf8'));
    expect(result).toMatchObject({ ok: true });
  });

  it('accepts the built-in defaults', () => {
    expect(feedbackConfigSchema.safeParse(defaultFeedbackConfig).success).toBe(true);
    expect(parseFeedbackConfig(stringify(defaultFeedbackConfig))).toEqual({ ok: true, value: defaultFeedbackConfig });
  });

  it.each([
    { name: 'a reserve that does not fit above the target', change: (c: FeedbackConfig) => { c.controller.criticalReserve = 0.3; }, path: 'controller.criticalReserve' },
    { name: 'a safe default of 1 or more', change: (c: FeedbackConfig) => { c.staleSamples.safeDefaults.batch = 1; }, path: 'staleSamples.safeDefaults.batch' },
    { name: 'a safe default below the floor', change: (c: FeedbackConfig) => { c.staleSamples.safeDefaults.standard = 0.05; }, path: 'staleSamples.safeDefaults.standard' },
    { name: 'borrowing inside the band', change: (c: FeedbackConfig) => { c.controller.borrowBelowUtilization = 0.79; }, path: 'controller.borrowBelowUtilization' },
    { name: 'a borrowing cap above the global maximum', change: (c: FeedbackConfig) => { c.controller.borrowCap = 10; }, path: 'controller.borrowCap' },
    { name: 'a target of 1', change: (c: FeedbackConfig) => { c.controller.targetUtilization = 1; }, path: 'controller.targetUtilization' },
    { name: 'a tick faster than the minimum', change: (c: FeedbackConfig) => { c.tickIntervalMs = 10; }, path: 'tickIntervalMs' },
    { name: 'a stale timeout shorter than a tick', change: (c: FeedbackConfig) => { c.staleSamples.staleAfterMs = 1000; }, path: 'staleSamples.staleAfterMs' },
    { name: 'a duplicated model', change: (c: FeedbackConfig) => { c.models = ['sora-2', 'sora-2']; }, path: 'models' },
    { name: 'a plan with an unknown priority', change: (c: FeedbackConfig) => { (c.plans['free']!.priorities as string[]).push('urgent'); }, path: 'plans.free.priorities.2' },
    { name: 'a reputation ramp that ends where it starts', change: (c: FeedbackConfig) => { c.reputation.tighten.failureRatio.full = 0.05; }, path: 'reputation.tighten.failureRatio' },
    { name: 'an unknown key (a typo must not be ignored)', change: (c: FeedbackConfig) => { Object.assign(c.controller, { targetUtilisation: 0.7 }); }, path: 'controller' },
  ])('rejects $name with the path to fix', ({ change, path }) => {
    const result = parseFeedbackConfig(withChange(change));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors.map((e) => e.path)).toContain(path);
  });

  it('returns invalid YAML as an error, not an exception', () => {
    const result = parseFeedbackConfig('controller: [unclosed');
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors[0]?.message).toMatch(/invalid YAML/);
  });
});
