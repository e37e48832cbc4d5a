/**
 * What the overview shows from the services' /metrics (their HTTP API for operators): consumer lag per group
 * (credit-ledger's kafka_consumer_lag_messages, usage-ingest's usage_ingest_lag_messages) and balance freshness
 * p50/p99 (admission's admission_balance_freshness_seconds, over the last minute of observations). Sampled on a
 * clock and kept for the overview window, so the charts have a history without Prometheus.
 */
import { bucketsBetween, histogramBuckets, parsePrometheus, quantileOf, type Bucket, type Sample } from '@access/platform-observability';
import { consoleLimits } from './limits';

export interface OpsSample {
  readonly atMs: number;
  /** Messages behind per consumer group, summed over its partitions; a group absent from the answer is absent. */
  readonly lag: Readonly<Record<string, number>>;
  /** Cumulative freshness histogram buckets at this time, or undefined when admission did not answer. */
  readonly freshness: readonly Bucket[] | undefined;
}

/** Lag per consumer group from the samples of the services that expose it. */
export function lagByGroup(samples: readonly Sample[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of samples) {
    if (s.name !== 'kafka_consumer_lag_messages' && s.name !== 'usage_ingest_lag_messages') continue;
    const group = s.labels['group'];
    if (group === undefined || !Number.isFinite(s.value)) continue;
    out[group] = (out[group] ?? 0) + s.value;
  }
  return out;
}

/** p50 and p99 in seconds of what was observed between the sample `windowMs` back and the newest one. */
export function freshnessAt(samples: readonly OpsSample[], index: number, windowMs: number): { p50: number | null; p99: number | null } {
  const newest = samples[index];
  if (newest?.freshness === undefined) return { p50: null, p99: null };
  let oldest: OpsSample | undefined;
  for (let i = index - 1; i >= 0; i--) {
    const s = samples[i]!;
    if (newest.atMs - s.atMs > windowMs) break;
    if (s.freshness !== undefined) oldest = s;
  }
  if (oldest === undefined) return { p50: null, p99: null };
  const window = bucketsBetween(oldest.freshness, newest.freshness);
  const finite = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? null : v);
  return { p50: finite(quantileOf(window, 0.5)), p99: finite(quantileOf(window, 0.99)) };
}

export interface ServicePorts {
  readonly admission: number;
  readonly ledger: number;
  readonly ingest: number;
}

export class OpsMetrics {
  private readonly samples: OpsSample[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** The last failure per service, shown on the overview rather than hidden. */
  readonly problems = new Map<string, string>();

  constructor(private readonly ports: ServicePorts) {}

  start(): void {
    const tick = () => void this.sample();
    this.timer = setInterval(tick, consoleLimits.metricsSampleMs);
    this.timer.unref();
    tick();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async read(name: string, port: number): Promise<Sample[] | undefined> {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(consoleLimits.upstreamTimeoutMs) });
      if (response.status !== 200) throw new Error(`HTTP ${response.status}`);
      this.problems.delete(name);
      return parsePrometheus(await response.text());
    } catch (error) {
      this.problems.set(name, `${name} /metrics: ${error instanceof Error ? error.message : String(error)}`);
      return undefined;
    }
  }

  async sample(): Promise<void> {
    const [admission, ledger, ingest] = await Promise.all([
      this.read('admission', this.ports.admission),
      this.read('credit-ledger', this.ports.ledger),
      this.read('usage-ingest', this.ports.ingest),
    ]);
    this.samples.push({
      atMs: Date.now(),
      lag: lagByGroup([...(ledger ?? []), ...(ingest ?? [])]),
      freshness: admission === undefined ? undefined : histogramBuckets(admission, 'admission_balance_freshness_seconds'),
    });
    while (this.samples.length > consoleLimits.metricsSamplesMax) this.samples.shift();
  }

  /** The charts' data: times in epoch seconds, lag per group, and freshness p50/p99 in milliseconds. */
  view() {
    const t = this.samples.map((s) => Math.round(s.atMs / 1000));
    const groups = [...new Set(this.samples.flatMap((s) => Object.keys(s.lag)))].sort();
    const lag: Record<string, (number | null)[]> = {};
    for (const g of groups) lag[g] = this.samples.map((s) => s.lag[g] ?? null);
    const p50: (number | null)[] = [];
    const p99: (number | null)[] = [];
    this.samples.forEach((_, i) => {
      const q = freshnessAt(this.samples, i, consoleLimits.freshnessWindowMs);
      p50.push(q.p50 === null ? null : q.p50 * 1000);
      p99.push(q.p99 === null ? null : q.p99 * 1000);
    });
    return { t, lag, freshnessMs: { p50, p99 }, problems: [...this.problems.values()] };
  }
}
