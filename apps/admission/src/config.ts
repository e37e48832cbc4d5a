/**
 * admission's configuration: the common variables (CONTRACTS.md) plus its own, and the plan and price
 * catalog from ACCESS_CONFIG_DIR, all validated at boot (a bad value exits naming it).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { validateAdmissionLimits, admissionLimits } from '@access/admission-domain';
import { admissionServiceLimits, validateServiceLimits, type AdmissionServiceLimits } from '@access/admission-application';
import { DEFAULT_ADMISSION_TOPICS, type AdmissionTopics } from '@access/admission-adapters';
import { parseCatalog, type Catalog } from '@access/catalog';
import { ConfigProblems } from '@access/platform-bootstrap';
import { commonEnvSchema } from '@access/platform-config';

const topicName = z.string().regex(/^[A-Za-z0-9._-]{1,249}$/, 'expected a Kafka topic name');
const optionalPositiveInt = z.coerce.number().int().positive().optional();

export const admissionEnvSchema = commonEnvSchema.extend({
  /** Where the other replicas reach this one (CONTRACTS.md); default http://127.0.0.1:$ADMISSION_PORT. */
  ADMISSION_ADVERTISED_URL: z.url({ protocol: /^https?$/ }).optional(),
  /** The consumer group the replicas share partitions in; default `admission.owners.<admissions topic>`. */
  ADMISSION_GROUP_ID: z.string().regex(/^[A-Za-z0-9._-]{1,200}$/).optional(),
  /**
   * How long the group waits for a silent replica before its partitions move (the takeover time after a crash is this
   * plus a rebalance). The broker must allow it: group.min.session.timeout.ms (infra/kafka/server.properties: 500).
   */
  ADMISSION_GROUP_SESSION_TIMEOUT_MS: z.coerce.number().int().min(500).max(300_000).default(1_000),
  ADMISSION_GROUP_HEARTBEAT_MS: z.coerce.number().int().min(10).max(10_000).default(100),
  /** Longest a request waits for the owner of its account while a partition changes hands, then 503 + Retry-After. */
  ADMISSION_ROUTE_DEADLINE_MS: z.coerce.number().int().min(0).max(60_000).default(2_500),
  /** How long a completion from /complete may wait for others to share its Kafka request (acks=all); decisions go through their partition's transaction. */
  ADMISSION_PRODUCER_LINGER_MS: z.coerce.number().int().min(0).max(50).default(1),
  /** Overrides the computed look-back of the restart replay (see replayLookbackMs). */
  ADMISSION_REPLAY_LOOKBACK_MS: optionalPositiveInt,
  /** Idempotency entries kept (~273 B of heap each, at most 16,000,000); past it the oldest are forgotten early. */
  ADMISSION_IDEMPOTENCY_ENTRIES_MAX: optionalPositiveInt,
  ADMISSION_REPLAY_EVENTS_MAX: optionalPositiveInt,
  ADMISSION_TOPIC_ADMISSIONS: topicName.default(DEFAULT_ADMISSION_TOPICS.admissions),
  ADMISSION_TOPIC_USAGE: topicName.default(DEFAULT_ADMISSION_TOPICS.usage),
  ADMISSION_TOPIC_LEDGER: topicName.default(DEFAULT_ADMISSION_TOPICS.ledger),
  ADMISSION_TOPIC_BALANCES: topicName.default(DEFAULT_ADMISSION_TOPICS.balances),
  ADMISSION_TOPIC_LIMITS: topicName.default(DEFAULT_ADMISSION_TOPICS.limits),
  ADMISSION_TOPIC_REPUTATION: topicName.default(DEFAULT_ADMISSION_TOPICS.reputation),
  ADMISSION_TOPIC_DEADLETTER: topicName.default(DEFAULT_ADMISSION_TOPICS.deadletter),
});
export type AdmissionEnv = z.infer<typeof admissionEnvSchema>;

export function topicsFromEnv(env: AdmissionEnv): AdmissionTopics {
  return {
    admissions: env.ADMISSION_TOPIC_ADMISSIONS,
    usage: env.ADMISSION_TOPIC_USAGE,
    ledger: env.ADMISSION_TOPIC_LEDGER,
    balances: env.ADMISSION_TOPIC_BALANCES,
    limits: env.ADMISSION_TOPIC_LIMITS,
    reputation: env.ADMISSION_TOPIC_REPUTATION,
    deadletter: env.ADMISSION_TOPIC_DEADLETTER,
  };
}

/** The service limits with the environment's overrides; a bad value is a boot failure naming the limit. */
export function limitsFromEnv(env: AdmissionEnv): AdmissionServiceLimits {
  const limits: AdmissionServiceLimits = {
    ...admissionServiceLimits,
    ...(env.ADMISSION_IDEMPOTENCY_ENTRIES_MAX !== undefined ? { idempotencyEntriesMax: env.ADMISSION_IDEMPOTENCY_ENTRIES_MAX } : {}),
    ...(env.ADMISSION_REPLAY_EVENTS_MAX !== undefined ? { replayEventsMax: env.ADMISSION_REPLAY_EVENTS_MAX } : {}),
  };
  const problems = [...validateServiceLimits(limits), ...validateAdmissionLimits(admissionLimits)];
  if (problems.length > 0) throw new ConfigProblems(problems);
  return limits;
}

/** Reads and validates plans.yaml and price-book.yaml; a boot failure names the file and the field of each problem. */
export function loadCatalog(configDir: string): Catalog {
  let plansYaml: string;
  let priceBookYaml: string;
  try {
    plansYaml = readFileSync(join(configDir, 'plans.yaml'), 'utf8');
    priceBookYaml = readFileSync(join(configDir, 'price-book.yaml'), 'utf8');
  } catch (error) {
    throw new ConfigProblems([`cannot read the catalog in ACCESS_CONFIG_DIR=${configDir}: ${error instanceof Error ? error.message : String(error)}`]);
  }
  const parsed = parseCatalog(plansYaml, priceBookYaml);
  if (!parsed.ok) throw new ConfigProblems(parsed.errors.map((e) => `${e.path}: ${e.message}`));
  return parsed.value;
}
