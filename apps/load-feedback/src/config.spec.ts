import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseEnv, repoRoot } from '@access/platform-config';
import { feedbackEnvSchema, loadFeedbackConfig, topicsFromEnv } from './config';

const shipped = join(repoRoot, 'config');
const env = (vars: Record<string, string> = {}) => parseEnv(feedbackEnvSchema, vars);

function configDirWith(edit: (feedbackYaml: string) => string): string {
  const dir = mkdtempSync(join(tmpdir(), 'lf-config-'));
  cpSync(shipped, dir, { recursive: true });
  writeFileSync(join(dir, 'feedback.yaml'), edit(readFileSync(join(shipped, 'feedback.yaml'), 'utf8')));
  return dir;
}

describe('load-feedback configuration', () => {
  it('accepts the shipped feedback.yaml against the shipped plans.yaml, with the contract topics', () => {
    const loaded = loadFeedbackConfig(shipped, env());
    expect(loaded.ok).toBe(true);
    if (loaded.ok) expect(loaded.config.tickIntervalMs).toBe(5_000);
    expect(topicsFromEnv(env())).toMatchObject({ load: 'access.load.v1', limits: 'access.limits.v1', reputation: 'access.reputation.v1' });
  });

  it('overrides the tick from LOAD_FEEDBACK_TICK_INTERVAL_MS, within the controller bounds', () => {
    const loaded = loadFeedbackConfig(shipped, env({ LOAD_FEEDBACK_TICK_INTERVAL_MS: '250' }));
    expect(loaded.ok && loaded.config.tickIntervalMs).toBe(250);
    expect(() => env({ LOAD_FEEDBACK_TICK_INTERVAL_MS: '10' })).toThrow(/LOAD_FEEDBACK_TICK_INTERVAL_MS/);
    const tooSlow = loadFeedbackConfig(shipped, env({ LOAD_FEEDBACK_TICK_INTERVAL_MS: '60000' }));
    expect(tooSlow.ok).toBe(false);
  });

  it.each([
    ['a plan plans.yaml does not have', (y: string) => y.replace('payg:       { weight: 2', 'gold:       { weight: 2'), /plans\.(gold|payg)/],
    ['a reputation range beyond the contract', (y: string) => y.replace('factorMin: 0.5', 'factorMin: 0.3'), /contract/],
    ['an invalid value', (y: string) => y.replace('targetUtilization: 0.8', 'targetUtilization: 1.2'), /controller\.targetUtilization/],
  ])('refuses %s, naming the field', (_name, edit, problem) => {
    const loaded = loadFeedbackConfig(configDirWith(edit), env());
    expect(loaded.ok).toBe(false);
    if (!loaded.ok) expect(loaded.problems.join('\n')).toMatch(problem);
  });
});
