import { z } from 'zod';
import {
  idSchema,
  loadMultiplierSchema,
  numericRecordSchema,
  prioritySchema,
  reasonSchema,
  reputationFactorSchema,
} from '../primitives';

/**
 * `load.sampled`, from model-serving fleets, exactly as CONTRACTS.md: the sample time is the CloudEvent `time`.
 * Utilization is at least 0 and exceeds 1 when the fleet is overloaded (queued work beyond its capacity).
 */
export const loadSampledV1Schema = z.object({
  model: idSchema,
  region: idSchema,
  utilization: z.number().min(0),
  queueDepth: z.int().min(0),
  p95LatencyMs: z.number().min(0),
  capacityCreditsPerSecond: z.number().gt(0),
});
export type LoadSampledV1 = z.infer<typeof loadSampledV1Schema>;

/** `limits.adjusted`: the load multiplier now in force for (model, plan, priority), and the evidence for it. */
export const limitsAdjustedV1Schema = z.object({
  model: idSchema,
  plan: idSchema,
  priority: prioritySchema,
  multiplier: loadMultiplierSchema,
  reason: reasonSchema,
  inputs: numericRecordSchema,
});
export type LimitsAdjustedV1 = z.infer<typeof limitsAdjustedV1Schema>;

/** `reputation.changed`: a user's reputation factor within an account, and the signals behind it. */
export const reputationChangedV1Schema = z.object({
  accountId: idSchema,
  userId: idSchema,
  factor: reputationFactorSchema,
  signals: numericRecordSchema,
});
export type ReputationChangedV1 = z.infer<typeof reputationChangedV1Schema>;
