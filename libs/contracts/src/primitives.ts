import { z } from 'zod';
import { contractLimits } from './limits';

/**
 * Primitives every event is built from. Events carry primitives only (OpenMeter's lesson): a domain type
 * changing must never change what an old event means.
 */

/** An unpaired UTF-16 surrogate: a high one not followed by a low one, or a low one not preceded by a high one. */
const unpairedSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Whether free text can be stored everywhere it goes: Postgres refuses U+0000 in `text` and `jsonb` (and the
 * escape `\u0000` in `jsonb`), and an unpaired surrogate is not Unicode at all (JSON.stringify writes it as an
 * escape that `jsonb` refuses; UTF-8 has no encoding for it). Refusing such text at the edge, naming the field,
 * is what keeps it from failing later as a 500 or a consumer that cannot move on.
 */
export function isStorableText(text: string): boolean {
  return !text.includes('\u0000') && !unpairedSurrogate.test(text);
}

export const STORABLE_TEXT_MESSAGE = 'must not contain U+0000 or unpaired UTF-16 surrogates';

/** Free text (reasons, plan names, dimension values) refined to what Postgres and ClickHouse can store. */
export function storableText(schema: z.ZodString = z.string()) {
  return schema.refine(isStorableText, STORABLE_TEXT_MESSAGE);
}

/** Client-chosen identifiers (accountId, userId, requestId, grantId, adjustmentId) and names (model, plan, endpoint, region). */
export const idSchema = z
  .string()
  .regex(/^[A-Za-z0-9_.:-]{1,128}$/, 'must match ^[A-Za-z0-9_.:-]{1,128}$');

/**
 * Server-generated ids (event `id`, `admissionId`): UUIDv7 in canonical lowercase form. Lowercase only, because
 * consumers deduplicate by comparing ids as strings and one UUID must have exactly one spelling.
 */
export const uuidv7Schema = z
  .string()
  .regex(
    /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    'must be a lowercase UUIDv7',
  );

/**
 * The `id` of an event another producer published (usage, load samples): any CloudEvents id, i.e. non-empty and, by
 * this contract, at most 128 printable ASCII characters (UUIDv4 from the CloudEvents SDKs, ULID, …). Consumers
 * deduplicate by (`source`, `id`), so two producers may use the same id without colliding. Events this system
 * produces carry UUIDv7 ids (`makeEvent` checks that).
 */
export const cloudEventIdSchema = z
  .string()
  .regex(
    new RegExp(`^[\\x20-\\x7e]{1,${contractLimits.eventIdLengthMax}}$`),
    `must be 1 to ${contractLimits.eventIdLengthMax} printable ASCII characters`,
  );

/** An amount of credits: an integer, JSON-safe (|n| ≤ 2^53 − 1) so it survives every JSON parser. */
export const creditsSchema = z.int();
export const nonNegativeCreditsSchema = creditsSchema.min(0);
export const positiveCreditsSchema = creditsSchema.min(1);

/** ISO-8601 UTC with exactly three fractional digits, e.g. `2026-11-25T10:00:00.000Z` (what `Date#toISOString` gives). */
export const isoTimeSchema = z.iso.datetime({
  precision: 3,
  message: 'must be ISO-8601 UTC with milliseconds, e.g. 2026-11-25T10:00:00.000Z',
});

export const prioritySchema = z.enum(['critical', 'standard', 'batch']);

const recordKeySchema = z
  .string()
  .regex(/^[a-z][a-z0-9_]{0,63}$/, 'key must match ^[a-z][a-z0-9_]{0,63}$');

function atMostKeys(max: number) {
  return (record: Record<string, unknown>) => Object.keys(record).length <= max;
}

/** Metered quantities of a request, e.g. `{video_seconds: 10}` or `{input_tokens: 1200, output_tokens: 800}`. */
export const metersSchema = z
  .record(recordKeySchema, z.number().min(0))
  .refine(atMostKeys(contractLimits.metersKeysMax), `at most ${contractLimits.metersKeysMax} meters`);

/** Pricing dimensions of a request, e.g. `{resolution: "1080p"}`. */
export const dimensionsSchema = z
  .record(recordKeySchema, storableText(z.string().max(contractLimits.dimensionValueLengthMax)))
  .refine(atMostKeys(contractLimits.dimensionsKeysMax), `at most ${contractLimits.dimensionsKeysMax} dimensions`);

/** Free-form numeric evidence (controller inputs, reputation signals); keys are camelCase or snake_case words. */
export const numericRecordSchema = z
  .record(
    z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,63}$/, 'key must match ^[A-Za-z][A-Za-z0-9_]{0,63}$'),
    z.number(),
  )
  .refine(atMostKeys(contractLimits.numericRecordKeysMax), `at most ${contractLimits.numericRecordKeysMax} entries`);

/** A sentence for humans (why an adjustment, void or limit change happened). */
export const reasonSchema = storableText(z.string().min(1).max(contractLimits.reasonLengthMax));

/** Load multiplier for (model, plan, priority): 0 sheds, 1 is the plan's base, up to 4 when the fleet is idle. */
export const loadMultiplierSchema = z.number().min(0).max(4);
/** Per-user reputation factor: 0.5 tightens limits for abuse, 1.5 earns burst for steady, successful usage. */
export const reputationFactorSchema = z.number().min(0.5).max(1.5);

export type Id = z.infer<typeof idSchema>;
export type Credits = z.infer<typeof creditsSchema>;
export type IsoTime = z.infer<typeof isoTimeSchema>;
export type Priority = z.infer<typeof prioritySchema>;
export type Meters = z.infer<typeof metersSchema>;
export type Dimensions = z.infer<typeof dimensionsSchema>;
