/**
 * Instants in the ledger are ISO-8601 UTC strings at the edges and epoch milliseconds inside.
 * Parsing and formatting are pure: nothing here reads the clock.
 */

// Date.parse accepts far more than ISO-8601 (for example "March 7"), so the shape is checked first.
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/** Epoch milliseconds of an ISO-8601 instant with a zone, or null when the string is not one. */
export function parseInstant(iso: string): number | null {
  if (typeof iso !== 'string' || !ISO_INSTANT.test(iso)) return null;
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? ms : null;
}

/** The canonical form every event carries: UTC with milliseconds, e.g. 2026-11-01T00:00:00.000Z. */
export function formatInstant(ms: number): string {
  return new Date(ms).toISOString();
}
