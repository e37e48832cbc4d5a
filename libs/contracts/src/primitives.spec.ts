import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import {
  STORABLE_TEXT_MESSAGE,
  isStorableText,
  reasonSchema,
  creditsSchema,
  dimensionsSchema,
  idSchema,
  isoTimeSchema,
  metersSchema,
  numericRecordSchema,
  prioritySchema,
  uuidv7Schema,
} from './primitives';

type Case = { schema: z.ZodType; value: unknown; valid: boolean };

const keys = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 1]));
const labels = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 'v']));

const cases: Record<string, Case[]> = {
  idSchema: [
    { schema: idSchema, value: 'acct-7', valid: true },
    { schema: idSchema, value: 'org:team_1.prod-2', valid: true },
    { schema: idSchema, value: 'a'.repeat(128), valid: true },
    { schema: idSchema, value: 'a'.repeat(129), valid: false },
    { schema: idSchema, value: '', valid: false },
    { schema: idSchema, value: 'acct 7', valid: false },
    { schema: idSchema, value: 'acct/7', valid: false },
    { schema: idSchema, value: 'äcct', valid: false },
    { schema: idSchema, value: 'acct-7\n', valid: false },
    { schema: idSchema, value: 7, valid: false },
  ],
  uuidv7Schema: [
    { schema: uuidv7Schema, value: '01a21225-d901-798e-acb8-2034fba541ed', valid: true },
    { schema: uuidv7Schema, value: '01A21225-D901-798E-ACB8-2034FBA541ED', valid: false },
    { schema: uuidv7Schema, value: '550e8400-e29b-41d4-a716-446655440000', valid: false }, // v4
    { schema: uuidv7Schema, value: '01a21225-d901-798e-ccb8-2034fba541ed', valid: false }, // wrong variant
    { schema: uuidv7Schema, value: '01ARZ3NDEKTSV4RRFFQ69G5FAV', valid: false }, // ULID
    { schema: uuidv7Schema, value: '01a21225d901798eacb82034fba541ed', valid: false },
  ],
  creditsSchema: [
    { schema: creditsSchema, value: 0, valid: true },
    { schema: creditsSchema, value: -42, valid: true },
    { schema: creditsSchema, value: Number.MAX_SAFE_INTEGER, valid: true },
    { schema: creditsSchema, value: 2 ** 53, valid: false },
    { schema: creditsSchema, value: 1.5, valid: false },
    { schema: creditsSchema, value: '10', valid: false },
    { schema: creditsSchema, value: Number.NaN, valid: false },
  ],
  isoTimeSchema: [
    { schema: isoTimeSchema, value: '2026-11-25T10:00:00.000Z', valid: true },
    { schema: isoTimeSchema, value: '2028-02-29T23:59:59.999Z', valid: true },
    { schema: isoTimeSchema, value: '2026-11-25T10:00:00Z', valid: false },
    { schema: isoTimeSchema, value: '2026-11-25T10:00:00.0Z', valid: false },
    { schema: isoTimeSchema, value: '2026-11-25T10:00:00.000000Z', valid: false },
    { schema: isoTimeSchema, value: '2026-11-25T10:00:00.000+01:00', valid: false },
    { schema: isoTimeSchema, value: '2026-11-25T10:00:00.000', valid: false },
    { schema: isoTimeSchema, value: '2026-02-30T10:00:00.000Z', valid: false },
    { schema: isoTimeSchema, value: '2026-11-25 10:00:00.000Z', valid: false },
    { schema: isoTimeSchema, value: 1795600000000, valid: false },
  ],
  prioritySchema: [
    { schema: prioritySchema, value: 'critical', valid: true },
    { schema: prioritySchema, value: 'standard', valid: true },
    { schema: prioritySchema, value: 'batch', valid: true },
    { schema: prioritySchema, value: 'urgent', valid: false },
    { schema: prioritySchema, value: 'Standard', valid: false },
  ],
  metersSchema: [
    { schema: metersSchema, value: {}, valid: true },
    { schema: metersSchema, value: { input_tokens: 1200, output_tokens: 0 }, valid: true },
    { schema: metersSchema, value: { video_seconds: 2.5 }, valid: true },
    { schema: metersSchema, value: keys(16), valid: true },
    { schema: metersSchema, value: keys(17), valid: false },
    { schema: metersSchema, value: { video_seconds: -1 }, valid: false },
    { schema: metersSchema, value: { video_seconds: Number.POSITIVE_INFINITY }, valid: false },
    { schema: metersSchema, value: { video_seconds: '10' }, valid: false },
    { schema: metersSchema, value: { VideoSeconds: 1 }, valid: false },
    { schema: metersSchema, value: { '1tokens': 1 }, valid: false },
    { schema: metersSchema, value: { ['a'.repeat(65)]: 1 }, valid: false },
    { schema: metersSchema, value: [1], valid: false },
  ],
  dimensionsSchema: [
    { schema: dimensionsSchema, value: { resolution: '1080p' }, valid: true },
    { schema: dimensionsSchema, value: labels(16), valid: true },
    { schema: dimensionsSchema, value: labels(17), valid: false },
    { schema: dimensionsSchema, value: { resolution: 'x'.repeat(128) }, valid: true },
    { schema: dimensionsSchema, value: { resolution: 'x'.repeat(129) }, valid: false },
    { schema: dimensionsSchema, value: { resolution: 1080 }, valid: false },
    { schema: dimensionsSchema, value: { 'Resolution': '1080p' }, valid: false },
  ],
  numericRecordSchema: [
    { schema: numericRecordSchema, value: { queueDepth: 3, success_rate: 0.9 }, valid: true },
    { schema: numericRecordSchema, value: { delta: -0.2 }, valid: true },
    { schema: numericRecordSchema, value: keys(33), valid: false },
    { schema: numericRecordSchema, value: { 'queue depth': 3 }, valid: false },
    { schema: numericRecordSchema, value: { queueDepth: 'high' }, valid: false },
  ],
};

describe.each(Object.entries(cases))('%s', (_name, table) => {
  it.each(table)('given $value, then valid is $valid', ({ schema, value, valid }) => {
    expect(schema.safeParse(value).success).toBe(valid);
  });
});

describe('storable text', () => {
  it.each([
    ['plain', 'goodwill credit', true],
    ['emoji (a surrogate pair)', 'thanks 🎉', true],
    ['empty', '', true],
    ['U+0000', 'a\u0000b', false],
    ['a lone high surrogate', 'a\uD800b', false],
    ['a lone high surrogate at the end', 'a\uD83C', false],
    ['a lone low surrogate', '\uDC00x', false],
    ['reversed pair', '\uDF89\uD83C', false],
  ])('%s → %s', (_name, text, storable) => {
    expect(isStorableText(text)).toBe(storable);
    expect(reasonSchema.safeParse(text === '' ? 'x' : text).success).toBe(storable);
    expect(dimensionsSchema.safeParse({ resolution: text }).success).toBe(storable);
  });

  it('agrees with String.prototype.isWellFormed and the absence of U+0000 on any UTF-16 string (property)', () => {
    const wellFormed = (s: string) => (s as unknown as { isWellFormed(): boolean }).isWellFormed();
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 12 }), (a, b) => {
        const text = a + b;
        expect(isStorableText(text)).toBe(wellFormed(text) && !text.includes('\u0000'));
      }),
      { seed: 7, numRuns: 2_000 },
    );
  });

  it('names the field in a parse error', () => {
    const result = reasonSchema.safeParse('bad \u0000');
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toBe(STORABLE_TEXT_MESSAGE);
  });
});
