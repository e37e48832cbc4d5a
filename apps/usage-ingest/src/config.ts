/**
 * usage-ingest's configuration: the common variables (CONTRACTS.md) plus its own, all validated at boot.
 */
import { z } from 'zod';
import { TOPICS } from '@access/contracts';
import { commonEnvSchema } from '@access/platform-config';
import { validateIngestLimits, type IngestLimits } from '@access/usage-domain';

const topicName = z.string().regex(/^[A-Za-z0-9._-]{1,249}$/, 'expected a Kafka topic name');
const optionalInt = z.coerce.number().int().optional();

export const ingestEnvSchema = commonEnvSchema.extend({
  USAGE_INGEST_GROUP_ID: z.string().regex(/^[A-Za-z0-9._-]{1,200}$/).default('usage-ingest'),
  USAGE_INGEST_TOPIC_ADMISSIONS: topicName.default(TOPICS.admissions),
  USAGE_INGEST_TOPIC_USAGE: topicName.default(TOPICS.usage),
  USAGE_INGEST_TOPIC_LEDGER: topicName.default(TOPICS.ledger),
  USAGE_INGEST_DEADLETTER_TOPIC: topicName.default(TOPICS.deadletter),
  /** Kafka's minimum is 6 s; shorter means a killed instance's partitions move sooner. */
  USAGE_INGEST_SESSION_TIMEOUT_MS: z.coerce.number().int().min(6_000).max(300_000).default(30_000),
  USAGE_INGEST_RETENTION_DAYS: optionalInt,
  USAGE_INGEST_INSERT_ROWS_MAX: optionalInt,
  USAGE_INGEST_DEDUPE_WINDOW_IDS: optionalInt,
  USAGE_INGEST_BATCH_WAIT_MS: optionalInt,
});
export type IngestEnv = z.infer<typeof ingestEnvSchema>;

/** The limits with the environment's overrides; a bad value is a boot failure naming the limit. */
export function limitsFromEnv(env: IngestEnv): IngestLimits {
  const overrides: Partial<IngestLimits> = {};
  if (env.USAGE_INGEST_RETENTION_DAYS !== undefined) overrides.retentionDays = env.USAGE_INGEST_RETENTION_DAYS;
  if (env.USAGE_INGEST_INSERT_ROWS_MAX !== undefined) overrides.insertRowsMax = env.USAGE_INGEST_INSERT_ROWS_MAX;
  if (env.USAGE_INGEST_DEDUPE_WINDOW_IDS !== undefined) overrides.dedupeWindowIdsPerPartitionMax = env.USAGE_INGEST_DEDUPE_WINDOW_IDS;
  if (env.USAGE_INGEST_BATCH_WAIT_MS !== undefined) overrides.batchWaitMsMax = env.USAGE_INGEST_BATCH_WAIT_MS;
  const result = validateIngestLimits(overrides);
  if (!result.ok) throw new Error(`Invalid usage-ingest limits:\n  ${result.errors.join('\n  ')}`);
  return result.limits;
}
