import type { PlansConfig } from '@access/catalog';
import type { ConfigError, FeedbackConfig } from './feedback-config';

/**
 * feedback.yaml names the plans and priorities it controls; plans.yaml is the authority on both. A plan
 * missing here would run with no load multiplier at all (never shed), and a priority listed here that
 * the plan may not send would publish multipliers nobody reads. Services run this at boot.
 */
export function checkFeedbackPlans(feedback: FeedbackConfig, plans: PlansConfig): ConfigError[] {
  const errors: ConfigError[] = [];
  for (const plan of plans.plans.values()) {
    const controlled = feedback.plans[plan.name];
    if (controlled === undefined) {
      errors.push({ path: `plans.${plan.name}`, message: `plans.yaml has plan ${plan.name}; feedback.yaml must give it a weight and its priorities` });
      continue;
    }
    const expected = [...plan.priorities].sort().join(', ');
    const actual = [...controlled.priorities].sort().join(', ');
    if (expected !== actual) {
      errors.push({ path: `plans.${plan.name}.priorities`, message: `must be the priorities plans.yaml allows (${expected}), not ${actual}` });
    }
  }
  for (const name of Object.keys(feedback.plans)) {
    if (!plans.plans.has(name)) errors.push({ path: `plans.${name}`, message: `plans.yaml has no plan ${name}` });
  }
  return errors;
}
