import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parsePlans, type PlansConfig } from '@access/catalog';
import { describe, expect, it } from 'vitest';
import { checkFeedbackPlans } from './catalog-check';
import { defaultFeedbackConfig } from './default-config';
import { parseFeedbackConfig } from './feedback-config';

const configDir = join(dirname(fileURLToPath(import.meta.url)), '../../../../config');

function shippedPlans(): PlansConfig {
  const plans = parsePlans(readFileSync(join(configDir, 'plans.yaml'), 'utf8'));
  if (!plans.ok) throw new Error(`plans.yaml does not parse: ${JSON.stringify(plans.errors)}`);
  return plans.value;
}

describe('checkFeedbackPlans', () => {
  it('finds the shipped feedback.yaml consistent with the shipped plans.yaml', () => {
    const feedback = parseFeedbackConfig(readFileSync(join(configDir, 'feedback.yaml'), 'utf8'));
    if (!feedback.ok) throw new Error(JSON.stringify(feedback.errors));
    expect(checkFeedbackPlans(feedback.value, shippedPlans())).toEqual([]);
  });

  it('reports a plan feedback.yaml does not control, a plan plans.yaml lacks, and a wrong priority list', () => {
    const { free: _free, ...rest } = defaultFeedbackConfig.plans;
    const feedback = {
      ...defaultFeedbackConfig,
      plans: { ...rest, team: { weight: 1, priorities: ['standard' as const] }, plus: { weight: 2, priorities: ['critical' as const, 'standard' as const, 'batch' as const] } },
    };
    expect(checkFeedbackPlans(feedback, shippedPlans()).map((e) => e.path).sort()).toEqual(['plans.free', 'plans.plus.priorities', 'plans.team']);
  });
});
