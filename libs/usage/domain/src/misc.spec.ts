import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chunkLines } from './chunk';
import { defaultIngestLimits, validateIngestLimits } from './limits';
import { dateTimeOfMs, splitIsoTime } from './time';

describe('chunkLines', () => {
  it('keeps order and respects both the row and the byte bound (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 40 }), { maxLength: 300 }), fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 200 }), (lines, rowsMax, bytesMax) => {
        const chunks = chunkLines(lines, rowsMax, bytesMax);
        expect(chunks.flat()).toEqual(lines);
        for (const chunk of chunks) {
          expect(chunk.length).toBeGreaterThan(0);
          expect(chunk.length).toBeLessThanOrEqual(rowsMax);
          // A single line larger than the bound still goes, alone.
          if (chunk.length > 1) expect(chunk.reduce((n, l) => n + Buffer.byteLength(l) + 1, 0)).toBeLessThanOrEqual(bytesMax);
        }
      }),
    );
  });
});

describe('limits', () => {
  it('accepts the defaults', () => {
    expect(validateIngestLimits()).toEqual({ ok: true, limits: defaultIngestLimits });
  });
  it.each([
    [{ insertRowsMax: 0 }, 'insertRowsMax'],
    [{ insertRowsMax: 2_000_000 }, 'insertRowsMax'],
    [{ retentionDays: 1.5 }, 'retentionDays'],
  ])('rejects %j', (override, name) => {
    const result = validateIngestLimits(override);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors.join()).toContain(name);
  });
});

describe('time', () => {
  it('splits ISO UTC milliseconds into DateTime and ms', () => {
    expect(splitIsoTime('2026-11-25T10:20:30.456Z')).toEqual({ ok: true, value: { seconds: '2026-11-25 10:20:30', ms: 456 } });
  });
  it.each(['2026-11-25T10:20:30Z', '2106-01-01T00:00:00.000Z', '2026-11-25 10:20:30.000'])('refuses %s', (iso) => {
    expect(splitIsoTime(iso).ok).toBe(false);
  });
  it('agrees with Date for any instant ClickHouse can store (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Date.parse('2105-12-31T23:59:59.999Z') }), (ms) => {
        const split = splitIsoTime(new Date(ms).toISOString());
        expect(split.ok).toBe(true);
        if (split.ok) {
          expect(split.value.seconds).toBe(dateTimeOfMs(ms));
          expect(split.value.ms).toBe(ms % 1000);
        }
      }),
    );
  });
});
