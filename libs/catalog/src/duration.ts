const unitMs: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

const durationPattern = /^([1-9][0-9]{0,12})(ms|s|m|h|d|w)$/;

/**
 * Reads a duration written the way people write it in YAML: `250ms`, `90s`, `30m`, `5h`, `7d`, `1w`.
 * Returns milliseconds, or null when the text is not one positive integer followed by one unit.
 */
export function parseDurationMs(text: string): number | null {
  const match = durationPattern.exec(text);
  if (match === null) return null;
  const amount = Number(match[1]);
  const unit = unitMs[match[2] ?? ''];
  if (unit === undefined) return null;
  const ms = amount * unit;
  return Number.isSafeInteger(ms) ? ms : null;
}
