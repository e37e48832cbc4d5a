/**
 * The fleet simulator's configuration, from the environment, validated at start (a bad value exits
 * naming the variable). FLEET_MODELS lists `model:capacityCreditsPerSecond` pairs.
 */
import { z } from 'zod';
import { TOPICS, idSchema } from '@access/contracts';
import { fleetSimulatorLimits, type SimulatedFleet } from '@access/load-feedback-simulation';
import { commonEnvSchema } from '@access/platform-config';

const topicName = z.string().regex(/^[A-Za-z0-9._-]{1,249}$/, 'expected a Kafka topic name');

const fleetsSchema = z
  .string()
  .transform((text, ctx) => {
    const out: { model: string; capacityCreditsPerSecond: number }[] = [];
    for (const part of text.split(',').map((p) => p.trim()).filter((p) => p.length > 0)) {
      const [model = '', capacity = ''] = part.split(':');
      const value = Number(capacity);
      if (!idSchema.safeParse(model).success || !Number.isFinite(value) || value <= 0) {
        ctx.addIssue({ code: 'custom', message: `expected model:capacityCreditsPerSecond, got ${JSON.stringify(part)}` });
        return z.NEVER;
      }
      out.push({ model, capacityCreditsPerSecond: value });
    }
    if (out.length === 0 || out.length > fleetSimulatorLimits.fleetsMax) {
      ctx.addIssue({ code: 'custom', message: `expected 1 to ${fleetSimulatorLimits.fleetsMax} fleets` });
      return z.NEVER;
    }
    return out;
  });

export const fleetEnvSchema = commonEnvSchema.extend({
  /** `model:capacityCreditsPerSecond,…`: one simulated fleet per model. */
  FLEET_MODELS: fleetsSchema.default([
    { model: 'codex-1', capacityCreditsPerSecond: 8000 },
    { model: 'sora-2', capacityCreditsPerSecond: 2000 },
  ]),
  FLEET_REGION: idSchema.default('local-1'),
  /** How often a sample is published (fleets sample every few seconds; the controller's staleAfterMs is 15 s). */
  FLEET_TICK_MS: z.coerce.number().int().min(100).max(60_000).default(1_000),
  /** Mean service time of one request on an idle fleet, for the latency model. */
  FLEET_SERVICE_TIME_MS: z.coerce.number().positive().max(3_600_000).default(1_250),
  /** Mean credits of one request, to express the backlog as a queue depth in requests. */
  FLEET_MEAN_REQUEST_CREDITS: z.coerce.number().positive().default(10),
  FLEET_TOPIC_ADMISSIONS: topicName.default(TOPICS.admissions),
  FLEET_TOPIC_USAGE: topicName.default(TOPICS.usage),
  FLEET_TOPIC_LOAD: topicName.default(TOPICS.load),
  FLEET_TOPIC_DEADLETTER: topicName.default(TOPICS.deadletter),
});
export type FleetEnv = z.infer<typeof fleetEnvSchema>;

export function fleetsFromEnv(env: FleetEnv): SimulatedFleet[] {
  return env.FLEET_MODELS.map((f) => ({
    model: f.model,
    region: env.FLEET_REGION,
    capacityCreditsPerSecond: f.capacityCreditsPerSecond,
    serviceTimeMs: env.FLEET_SERVICE_TIME_MS,
    meanRequestCredits: env.FLEET_MEAN_REQUEST_CREDITS,
  }));
}
