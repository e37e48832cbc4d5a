/**
 * The console's configuration: the common variables (CONTRACTS.md; it finds the services at their ports on
 * 127.0.0.1) plus its own, validated at boot: a bad value exits naming the variable.
 */
import { z } from 'zod';
import { TOPICS } from '@access/contracts';
import { commonEnvSchema } from '@access/platform-config';

const topicName = z.string().regex(/^[A-Za-z0-9._-]{1,249}$/, 'expected a Kafka topic name');

export const consoleEnvSchema = commonEnvSchema.extend({
  CONSOLE_PORT: z.coerce.number().int().min(1).max(65_535).default(7500),
  /** ClickHouse is read as the read-only analyst (docs/analytics.md): the console can change nothing there. */
  CONSOLE_CLICKHOUSE_USER: z.string().min(1).default('analyst'),
  CONSOLE_CLICKHOUSE_PASSWORD: z.string().default('analyst'),
  CONSOLE_TOPIC_DEADLETTER: topicName.default(TOPICS.deadletter),
});
export type ConsoleEnv = z.infer<typeof consoleEnvSchema>;
