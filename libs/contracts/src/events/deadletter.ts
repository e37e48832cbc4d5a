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
  /**
   * The original message's headers (UTF-8), so that `access deadletters redrive` republishes key, value and
   * headers as they were. Optional: records written before it existed have none.
   */
  headers: z
    .record(z.string().min(1).max(contractLimits.deadletterHeaderNameLengthMax), z.string().max(contractLimits.deadletterHeaderValueLengthMax))
    .refine((h) => Object.keys(h).length <= contractLimits.deadletterHeadersMax, `at most ${contractLimits.deadletterHeadersMax} headers`)
    .optional(),
});
export type DeadletterRecordedV1 = z.infer<typeof deadletterRecordedV1Schema>;

/** Where a dead message came from and why, as its writer has it. */
export interface DeadMessage {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: string | null;
  /** The raw value (null for a tombstone). */
  readonly value: Uint8Array | null;
  readonly error: string;
  readonly consumer: string;
  /** The original message's headers, when the writer has them. */
  readonly headers?: Readonly<Record<string, string>>;
}

/** Bytes whose base64 fits in `deadletterValueBase64LengthMax` (4 characters per 3 bytes). */
const valueBytesMax = Math.floor(contractLimits.deadletterValueBase64LengthMax / 4) * 3;

/**
 * The data of a `deadletter.recorded` event, truncated to the contract's maxima (key, value, error, consumer) so
 * that the record is never refused for its size. Every writer of dead letters builds it here.
 */
export function deadletterData(message: DeadMessage): DeadletterRecordedV1 {
  const value = message.value ?? new Uint8Array(0);
  // Headers that do not fit the maxima are left out rather than cut: a cut header would be redriven wrong.
  const headers =
    message.headers === undefined
      ? undefined
      : Object.fromEntries(
          Object.entries(message.headers)
            .filter(([name, text]) => name.length > 0 && name.length <= contractLimits.deadletterHeaderNameLengthMax && text.length <= contractLimits.deadletterHeaderValueLengthMax)
            .slice(0, contractLimits.deadletterHeadersMax),
        );
  return {
    topic: message.topic,
    partition: message.partition,
    offset: message.offset,
    key: message.key === null ? null : message.key.slice(0, contractLimits.deadletterKeyLengthMax),
    valueBase64: Buffer.from(value.buffer, value.byteOffset, Math.min(value.byteLength, valueBytesMax)).toString('base64'),
    error: (message.error.trim() || 'unknown error').slice(0, contractLimits.deadletterErrorLengthMax),
    consumer: (message.consumer || 'unknown consumer').slice(0, contractLimits.deadletterConsumerLengthMax),
    ...(headers === undefined ? {} : { headers }),
  };
}
