/**
 * The Prometheus text format as prom-client writes it, read back: the console and `npm start`'s summary read
 * the services' /metrics with these, and histogram quantiles are computed the way histogram_quantile does.
 */

export const prometheusTextLimits = {
  /** Lines parsed from one /metrics answer; the rest is ignored (a service never writes this many). */
  linesMax: 20_000,
} as const;

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Parses the Prometheus text format (the subset prom-client writes): `name{a="b",…} value`. */
export function parsePrometheus(text: string): Sample[] {
  const out: Sample[] = [];
  const lines = text.split('\n');
  for (const raw of lines.slice(0, prometheusTextLimits.linesMax)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (match === null) continue;
    const labels: Record<string, string> = {};
    for (const m of (match[2] ?? '').matchAll(/([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[m[1]!] = m[2]!.replace(/\\(.)/g, '$1');
    const value = Number(match[3]);
    if (Number.isFinite(value) || match[3] === '+Inf' || match[3] === 'NaN') out.push({ name: match[1]!, labels, value });
  }
  return out;
}

/** Cumulative count of observations at or below `le` (a Prometheus histogram bucket; the last is +Inf). */
export interface Bucket {
  readonly le: number;
  readonly count: number;
}

/** The buckets of histogram `name` in `samples` (summed over label sets), or undefined when it is not there. */
export function histogramBuckets(samples: readonly Sample[], name: string): Bucket[] | undefined {
  const byLe = new Map<number, number>();
  for (const s of samples) {
    if (s.name !== `${name}_bucket`) continue;
    const le = s.labels['le'] === '+Inf' ? Number.POSITIVE_INFINITY : Number(s.labels['le']);
    if (Number.isNaN(le)) continue;
    byLe.set(le, (byLe.get(le) ?? 0) + s.value);
  }
  if (byLe.size === 0) return undefined;
  return [...byLe].sort((a, b) => a[0] - b[0]).map(([le, count]) => ({ le, count }));
}

/** Observations between two readings of the same histogram, bucket by bucket (`older` undefined: since start). */
export function bucketsBetween(older: readonly Bucket[] | undefined, newer: readonly Bucket[]): Bucket[] {
  const before = new Map((older ?? []).map((b) => [b.le, b.count]));
  const total = newer.at(-1)?.count ?? 0;
  // Fewer observations than before: the process restarted and its counters began again from zero.
  const restarted = (older?.at(-1)?.count ?? 0) > total;
  return newer.map((b) => ({ le: b.le, count: restarted ? b.count : Math.max(0, b.count - (before.get(b.le) ?? 0)) }));
}

/**
 * The `q` quantile (0..1) of cumulative buckets, interpolated linearly within the bucket it falls in, as
 * Prometheus's histogram_quantile does (the first bucket starts at 0). Infinity when it falls beyond the last
 * finite bound; undefined when there is no observation.
 */
export function quantileOf(buckets: readonly Bucket[], q: number): number | undefined {
  const total = buckets.at(-1)?.count ?? 0;
  if (total <= 0) return undefined;
  const rank = q * total;
  let lowerLe = 0;
  let lowerCount = 0;
  for (const b of buckets) {
    if (b.count >= rank && b.count > lowerCount) {
      if (b.le === Number.POSITIVE_INFINITY) return Number.POSITIVE_INFINITY;
      return lowerLe + ((b.le - lowerLe) * (rank - lowerCount)) / (b.count - lowerCount);
    }
    lowerLe = b.le;
    lowerCount = b.count;
  }
  return Number.POSITIVE_INFINITY;
}
