import { z } from 'zod';
import { contractLimits } from '../limits';

/**
 * `deadletter.recorded`: a message a consumer could not parse or validate, kept byte for byte (base64) with
 * where it came from and why, so it can be inspected and replayed. A writer truncates `key`, `error` and
 * `valueBase64` to the maxima in `contractLimits` rather than losing the record.
 */
export const deadletterRecordedV1Schema = z.object({
  topic: z
    .string()
    .regex(/^[A-Za-z0-9._-]+$/, 'must be a Kafka topic name')
    .max(contractLimits.topicLengthMax),
  partition: z.int().min(0),
  /** Kafka offsets are 64-bit, so they travel as decimal strings (as kafkajs gives them). */
  offset: z.string().regex(/^\d{1,19}$/, 'must be a non-negative decimal offset'),
  key: z.string().max(contractLimits.deadletterKeyLengthMax).nullable(),
  /** The message value; empty for a null (tombstone) value. */
  valueBase64: z.base64().max(contractLimits.deadletterValueBase64LengthMax),
  error: z.string().min(1).max(contractLimits.deadletterErrorLengthMax),
  consumer: z.string().min(1).max(contractLimits.deadletterConsumerLengthMax),
});
export type DeadletterRecordedV1 = z.infer<typeof deadletterRecordedV1Schema>;
