/**
 * ClickHouse 18.16 has no DateTime64: an instant is stored as `DateTime` (seconds, UTC) plus a `UInt16` millisecond
 * column. The contract's times are ISO-8601 UTC with exactly three fractional digits (`isoTimeSchema`), so the split
 * is a matter of slicing, with no Date arithmetic that could shift a value.
 */

/** DateTime covers 1970-01-01 00:00:00 to 2105-12-31 (UInt32 seconds); outside it the server would wrap silently. */
export const dateTimeYearMin = 1970;
export const dateTimeYearMax = 2105;

export interface SplitTime {
  /** `2026-11-25 10:00:00`, the literal form of a ClickHouse DateTime in UTC. */
  seconds: string;
  ms: number;
}

export type SplitTimeResult = { ok: true; value: SplitTime } | { ok: false; reason: string };

const isoUtcMillis = /^(\d{4})-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.(\d{3})Z$/;

export function splitIsoTime(iso: string): SplitTimeResult {
  const match = isoUtcMillis.exec(iso);
  if (match === null) return { ok: false, reason: `${iso} is not ISO-8601 UTC with milliseconds` };
  const year = Number(match[1]);
  if (year < dateTimeYearMin || year > dateTimeYearMax) {
    return { ok: false, reason: `${iso} is outside what ClickHouse DateTime stores (${dateTimeYearMin}..${dateTimeYearMax})` };
  }
  return { ok: true, value: { seconds: `${iso.slice(0, 10)} ${iso.slice(11, 19)}`, ms: Number(match[2]) } };
}

/** The DateTime literal of an epoch-milliseconds instant (for `ingested_at`, which is the sink's clock). */
export function dateTimeOfMs(epochMs: number): string {
  const iso = new Date(epochMs).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;
}
