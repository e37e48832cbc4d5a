/**
 * load-feedback's configuration: the common variables (CONTRACTS.md) plus its own, and feedback.yaml
 * (checked against plans.yaml) from ACCESS_CONFIG_DIR, all validated at boot: a bad value exits naming it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { parsePlans } from '@access/catalog';
import { DEFAULT_LOAD_FEEDBACK_TOPICS, adapterLimits, type LoadFeedbackTopics } from '@access/load-feedback-adapters';
import { checkFeedbackPlans, feedbackLimits, parseFeedbackConfig, type FeedbackConfig } from '@access/load-feedback-domain';
import { commonEnvSchema } from '@access/platform-config';

const topicName = z.string().regex(/^[A-Za-z0-9._-]{1,249}$/, 'expected a Kafka topic name');

export const feedbackEnvSchema = commonEnvSchema.extend({
  LOAD_FEEDBACK_TOPIC_LOAD: topicName.default(DEFAULT_LOAD_FEEDBACK_TOPICS.load),
  LOAD_FEEDBACK_TOPIC_ADMISSIONS: topicName.default(DEFAULT_LOAD_FEEDBACK_TOPICS.admissions),
  LOAD_FEEDBACK_TOPIC_LIMITS: topicName.default(DEFAULT_LOAD_FEEDBACK_TOPICS.limits),
  LOAD_FEEDBACK_TOPIC_REPUTATION: topicName.default(DEFAULT_LOAD_FEEDBACK_TOPICS.reputation),
  LOAD_FEEDBACK_TOPIC_DEADLETTER: topicName.default(DEFAULT_LOAD_FEEDBACK_TOPICS.deadletter),
  /**
   * Overrides feedback.yaml's tickIntervalMs (same bounds). For tests and drills that need the loop to
   * answer faster than the shipped clock; the controller's steps are per tick, so a faster clock also
   * moves multipliers faster.
   */
  LOAD_FEEDBACK_TICK_INTERVAL_MS: z.coerce.number().int().min(feedbackLimits.tickIntervalMsMin).max(feedbackLimits.tickIntervalMsMax).optional(),
  /** How often the reputation job reads the abuse-signals view (0 turns it off). */
  LOAD_FEEDBACK_REPUTATION_INTERVAL_MS: z.coerce.number().int().min(0).max(86_400_000).default(60_000),
  LOAD_FEEDBACK_RESTORE_TIMEOUT_MS: z.coerce.number().int().min(1_000).max(600_000).default(adapterLimits.restoreTimeoutMs),
});
export type FeedbackEnv = z.infer<typeof feedbackEnvSchema>;

export function topicsFromEnv(env: FeedbackEnv): LoadFeedbackTopics {
  return {
    ...DEFAULT_LOAD_FEEDBACK_TOPICS,
    load: env.LOAD_FEEDBACK_TOPIC_LOAD,
    admissions: env.LOAD_FEEDBACK_TOPIC_ADMISSIONS,
    limits: env.LOAD_FEEDBACK_TOPIC_LIMITS,
    reputation: env.LOAD_FEEDBACK_TOPIC_REPUTATION,
    deadletter: env.LOAD_FEEDBACK_TOPIC_DEADLETTER,
  };
}

/** The contract bounds of `reputation.changed` factor: a config beyond them could publish nothing valid. */
const contractFactorMin = 0.5;
const contractFactorMax = 1.5;

/**
 * Reads feedback.yaml and plans.yaml from `configDir` and checks them against each other and the
 * contract; problems name the file and the field.
 */
export function loadFeedbackConfig(configDir: string, env: FeedbackEnv): { ok: true; config: FeedbackConfig } | { ok: false; problems: string[] } {
  let feedbackYaml: string;
  let plansYaml: string;
  try {
    feedbackYaml = readFileSync(join(configDir, 'feedback.yaml'), 'utf8');
    plansYaml = readFileSync(join(configDir, 'plans.yaml'), 'utf8');
  } catch (error) {
    return { ok: false, problems: [`cannot read ACCESS_CONFIG_DIR=${configDir}: ${error instanceof Error ? error.message : String(error)}`] };
  }
  const feedback = parseFeedbackConfig(feedbackYaml);
  if (!feedback.ok) return { ok: false, problems: feedback.errors.map((e) => `feedback.yaml ${e.path}: ${e.message}`) };
  const plans = parsePlans(plansYaml);
  if (!plans.ok) return { ok: false, problems: plans.errors.map((e) => `plans.yaml ${e.path}: ${e.message}`) };
  const problems = checkFeedbackPlans(feedback.value, plans.value).map((e) => `feedback.yaml ${e.path}: ${e.message}`);
  const r = feedback.value.reputation;
  if (r.factorMin < contractFactorMin || r.factorMax > contractFactorMax) {
    problems.push(`feedback.yaml reputation: factorMin/factorMax must lie within the contract's [${contractFactorMin}, ${contractFactorMax}]`);
  }
  if (problems.length > 0) return { ok: false, problems };
  const config = env.LOAD_FEEDBACK_TICK_INTERVAL_MS === undefined ? feedback.value : { ...feedback.value, tickIntervalMs: env.LOAD_FEEDBACK_TICK_INTERVAL_MS };
  if (config.staleSamples.staleAfterMs < config.tickIntervalMs) {
    return { ok: false, problems: ['LOAD_FEEDBACK_TICK_INTERVAL_MS: must be at most staleSamples.staleAfterMs of feedback.yaml'] };
  }
  return { ok: true, config };
}
