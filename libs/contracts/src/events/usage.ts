import { z } from 'zod';
import { dimensionsSchema, idSchema, isoTimeSchema, metersSchema, uuidv7Schema } from '../primitives';

export const requestStatusSchema = z.enum(['succeeded', 'failed', 'cancelled']);
export type RequestStatus = z.infer<typeof requestStatusSchema>;

/**
 * `usage.request_completed`, exactly as CONTRACTS.md (also the body of `POST /v1/admissions/{id}/complete`).
 * A failed or cancelled request is charged only for what its meters report, so zero meters charge nothing.
 */
export const usageRequestCompletedV1Schema = z
  .object({
    admissionId: uuidv7Schema,
    requestId: idSchema,
    accountId: idSchema,
    userId: idSchema,
    model: idSchema,
    endpoint: idSchema,
    status: requestStatusSchema,
    meters: metersSchema,
    dimensions: dimensionsSchema,
    gpuSeconds: z.number().min(0),
    durationMs: z.int().min(0),
    startedAt: isoTimeSchema,
    endedAt: isoTimeSchema,
  })
  // Same-format ISO strings compare like the instants they name.
  .refine((d) => d.startedAt <= d.endedAt, { path: ['endedAt'], message: 'must not be before startedAt' });
export type UsageRequestCompletedV1 = z.infer<typeof usageRequestCompletedV1Schema>;
