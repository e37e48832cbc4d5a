/**
 * The live summary of `npm start`, as pure functions: parsing what the processes report (Prometheus text,
 * the traffic simulator's JSON stats lines) and rendering one screen or one plain line. main.ts does the
 * I/O (HTTP, Kafka admin, the terminal) and passes the results in.
 */
import { z } from 'zod';
import { bucketsBetween, quantileOf, type Bucket, type Sample } from '@access/platform-observability';

export { bucketsBetween, histogramBuckets, parsePrometheus, quantileOf, type Bucket, type Sample } from '@access/platform-observability';

/** The outcomes of the waterfall as the traffic simulator counts them (tools/traffic-simulator/src/workload.ts). */
export const OUTCOME_NAMES = ['admitted_allowance', 'admitted_credits', 'rate_limited', 'concurrency_limited', 'load_shed', 'insufficient_credits', 'error'] as const;
export type OutcomeName = (typeof OUTCOME_NAMES)[number];

export const summaryLimits = {
  /** Snapshots kept to compute rates over the last few seconds. */
  snapshotsMax: 30,
  rateWindowMs: 5_000,
  /** The window of the freshness percentiles (readings of admission's histogram, one a second). */
  freshnessWindowMs: 10_000,
  topAccountsMax: 6,
  multiplierRowsMax: 12,
} as const;

const countsSchema = z.record(z.string(), z.number());
/** One line of `traffic-simulator --json`, parsed at the edge. */
export const trafficLineSchema = z.object({
  type: z.literal('stats'),
  runId: z.string(),
  atMs: z.number(),
  accounts: z.array(z.object({ accountId: z.string(), plan: z.string() })),
  stats: z.object({
    startedAtMs: z.number(),
    counts: countsSchema,
    admittedCreditsByAccount: countsSchema,
    firstAtMs: countsSchema,
    sentRequests: z.number(),
    cappedRequests: z.number(),
    completionsSent: z.number(),
    completionErrors: z.number(),
    running: z.number(),
  }),
});
export type TrafficLine = z.infer<typeof trafficLineSchema>;

export function parseTrafficLine(line: string): TrafficLine | undefined {
  try {
    const parsed = trafficLineSchema.safeParse(JSON.parse(line));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

export interface Snapshot {
  readonly atMs: number;
  readonly counts: Readonly<Record<string, number>>;
}

/** Per-second rates of each key over the snapshots within the window (the newest against the oldest). */
export function ratesOf(snapshots: readonly Snapshot[], windowMs: number = summaryLimits.rateWindowMs): Record<string, number> {
  const newest = snapshots[snapshots.length - 1];
  if (newest === undefined) return {};
  const oldest = snapshots.find((s) => s.atMs >= newest.atMs - windowMs - 500) ?? newest;
  const dt = (newest.atMs - oldest.atMs) / 1000;
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(newest.counts)) out[key] = dt > 0 ? Math.max(0, value - (oldest.counts[key] ?? 0)) / dt : 0;
  return out;
}

/** Keeps at most snapshotsMax snapshots, newest last. */
export function pushSnapshot(snapshots: Snapshot[], snapshot: Snapshot): void {
  snapshots.push(snapshot);
  while (snapshots.length > summaryLimits.snapshotsMax) snapshots.shift();
}

/** One reading of a histogram: its cumulative buckets, ascending by `le`, when it was read. */
export interface HistogramReading {
  readonly atMs: number;
  readonly buckets: readonly Bucket[];
}

const fmtMs = (seconds: number) => {
  if (seconds === Number.POSITIVE_INFINITY) return 'over 10 s';
  const ms = seconds * 1000;
  const tenths = Math.round(ms * 10) / 10;
  return tenths < 10 ? `${tenths.toFixed(1)} ms` : `${Math.round(ms).toLocaleString('en-US')} ms`;
};

/**
 * The freshness line of the summary from readings of admission_balance_freshness_seconds, one a second: p50 and
 * p99 of the balances admission applied in the last `windowMs` (the newest reading against the oldest within it).
 */
export function freshnessLine(readings: readonly HistogramReading[], windowMs: number = summaryLimits.freshnessWindowMs): string {
  const newest = readings.at(-1);
  if (newest === undefined) return 'measuring…';
  const oldest = readings.find((r) => r.atMs >= newest.atMs - windowMs - 500) ?? newest;
  // Only the newest reading is recent (admission did not answer for a while): nothing to subtract yet.
  if (oldest === newest) return 'measuring…';
  const seconds = Math.round((newest.atMs - oldest.atMs) / 1000);
  const window = bucketsBetween(oldest.buckets, newest.buckets);
  const count = window.at(-1)?.count ?? 0;
  if (count === 0) return `no balance changed in the last ${seconds} s`;
  const p50 = quantileOf(window, 0.5)!;
  const p99 = quantileOf(window, 0.99)!;
  return `p50 ${fmtMs(p50)}, p99 ${fmtMs(p99)} (last ${seconds} s, ${count.toLocaleString('en-US')} balance${count === 1 ? '' : 's'})`;
}

/** Keeps at most snapshotsMax readings, newest last. */
export function pushReading(readings: HistogramReading[], reading: HistogramReading): void {
  readings.push(reading);
  while (readings.length > summaryLimits.snapshotsMax) readings.shift();
}

export interface AccountRow {
  readonly accountId: string;
  readonly plan: string;
  readonly spentCredits: number;
  readonly balance?: { readonly balanceCredits: number; readonly heldCredits: number; readonly availableCredits: number };
}

export interface LagRow {
  readonly group: string;
  readonly topic: string;
  /** null: the group has committed nothing on that topic yet. */
  readonly lag: number | null;
}

export interface SummaryView {
  readonly nowMs: number;
  readonly startedAtMs: number;
  readonly readyAfterMs: number | undefined;
  readonly traffic: TrafficLine | undefined;
  readonly trafficRates: Readonly<Record<string, number>>;
  /** admission_decisions_total rates by `decision/reason` (every caller, not only the simulator). */
  readonly admissionRates: Readonly<Record<string, number>>;
  readonly accounts: readonly AccountRow[];
  readonly multipliers: readonly Sample[];
  readonly lag: readonly LagRow[];
  /** A line about ledger-to-admission freshness, or why it is not shown. */
  readonly freshness: string;
  readonly problems: readonly string[];
}

/** The accounts with the most credits admitted, with the ledger's balance where it answered. */
export function topAccounts(traffic: TrafficLine | undefined, balances: ReadonlyMap<string, AccountRow['balance']>): AccountRow[] {
  if (traffic === undefined) return [];
  const planOf = new Map(traffic.accounts.map((a) => [a.accountId, a.plan]));
  return Object.entries(traffic.stats.admittedCreditsByAccount)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .slice(0, summaryLimits.topAccountsMax)
    .map(([accountId, spentCredits]) => {
      const balance = balances.get(accountId);
      return { accountId, plan: planOf.get(accountId) ?? '?', spentCredits, ...(balance !== undefined ? { balance } : {}) };
    });
}

const fmtRate = (x: number | undefined) => (x === undefined ? '   -' : x.toFixed(1).padStart(5));
const fmtSeconds = (ms: number | undefined) => (ms === undefined ? '—' : `${(ms / 1000).toFixed(1)} s`);
const bold = (s: string, ansi: boolean) => (ansi ? `\u001b[1m${s}\u001b[0m` : s);

/** One screen of the live summary (lines, without the clearing escape codes). */
export function renderSummary(view: SummaryView, ansi: boolean): string[] {
  const lines: string[] = [];
  const up = Math.round((view.nowMs - view.startedAtMs) / 1000);
  lines.push(bold(`access · npm start · up ${up} s${view.readyAfterMs !== undefined ? ` · services ready after ${fmtSeconds(view.readyAfterMs)}` : ''} · Ctrl-C stops everything`, ansi));
  lines.push('');
  const t = view.traffic;
  lines.push(bold('Decisions (traffic simulator)      /s    total   first seen', ansi));
  for (const o of OUTCOME_NAMES) {
    lines.push(`  ${o.padEnd(24)} ${fmtRate(view.trafficRates[o])}  ${String(t?.stats.counts[o] ?? 0).padStart(7)}   ${fmtSeconds(t?.stats.firstAtMs[o])}`);
  }
  if (t !== undefined) {
    lines.push(`  sent ${t.stats.sentRequests}, over the rate cap ${t.stats.cappedRequests}, running ${t.stats.running}, completed ${t.stats.completionsSent} (errors ${t.stats.completionErrors})`);
  } else lines.push('  (traffic simulator not reporting yet)');
  // Every caller, not only the simulator; only what moved in the window, so that the line stays short.
  const admissionKeys = Object.keys(view.admissionRates).filter((k) => view.admissionRates[k]! >= 0.05).sort();
  lines.push(`  admission, all callers: ${admissionKeys.length === 0 ? 'idle' : admissionKeys.map((k) => `${k.replace('/none', '')} ${view.admissionRates[k]!.toFixed(1)}/s`).join(', ')}`);
  lines.push('');
  lines.push(bold('Top accounts by credits admitted        spent   balance      held  available', ansi));
  if (view.accounts.length === 0) lines.push('  (none yet)');
  for (const a of view.accounts) {
    const b = a.balance;
    lines.push(
      `  ${`${a.accountId} (${a.plan})`.padEnd(36).slice(0, 36)} ${String(a.spentCredits).padStart(7)} ${b ? String(b.balanceCredits).padStart(9) : '        ?'} ${b ? String(b.heldCredits).padStart(9) : '        ?'} ${b ? String(b.availableCredits).padStart(10) : '         ?'}`,
    );
  }
  lines.push('');
  lines.push(bold('Load multipliers (load-feedback), lowest first, those not at 1', ansi));
  const moved = view.multipliers.filter((m) => m.value !== 1).sort((a, b) => a.value - b.value);
  if (view.multipliers.length === 0) lines.push('  (load-feedback has published none yet)');
  else if (moved.length === 0) lines.push(`  all ${view.multipliers.length} at 1`);
  for (const m of moved.slice(0, summaryLimits.multiplierRowsMax)) {
    lines.push(`  ${`${m.labels['model'] ?? '?'} ${m.labels['plan'] ?? '?'} ${m.labels['priority'] ?? '?'}`.padEnd(30)} ${m.value.toFixed(2)}${m.value === 0 ? '  (shed)' : ''}`);
  }
  if (moved.length > summaryLimits.multiplierRowsMax) lines.push(`  … ${moved.length - summaryLimits.multiplierRowsMax} more`);
  lines.push('');
  lines.push(bold('Consumer lag (messages)', ansi));
  if (view.lag.length === 0) lines.push('  (not read yet)');
  for (const l of view.lag) lines.push(`  ${l.group.padEnd(36)} ${l.topic.padEnd(22)} ${l.lag === null ? 'no commits yet' : String(l.lag)}`);
  lines.push('');
  lines.push(`${bold('Ledger-to-admission freshness:', ansi)} ${view.freshness}`);
  for (const p of view.problems) lines.push(`! ${p}`);
  return lines;
}

/** The line printed every 10 s when stdout is not a terminal. */
export function plainSummary(view: SummaryView): string {
  const t = view.traffic;
  const counts = OUTCOME_NAMES.map((o) => `${o}=${t?.stats.counts[o] ?? 0}`).join(' ');
  const shed = view.multipliers.filter((m) => m.value === 0).length;
  const lowest = view.multipliers.reduce<Sample | undefined>((low, m) => (low === undefined || m.value < low.value ? m : low), undefined);
  const lag = view.lag.reduce((s, l) => s + (l.lag ?? 0), 0);
  const parts = [
    `[start ${Math.round((view.nowMs - view.startedAtMs) / 1000)}s]`,
    counts,
    `multipliers=${view.multipliers.length} shed=${shed}${lowest ? ` lowest=${lowest.labels['model']}/${lowest.labels['plan']}/${lowest.labels['priority']}:${lowest.value.toFixed(2)}` : ''}`,
    `lag=${lag}`,
    `freshness: ${view.freshness}`,
  ];
  const first = OUTCOME_NAMES.filter((o) => t?.stats.firstAtMs[o] !== undefined).map((o) => `${o}@${Math.round((t?.stats.firstAtMs[o] ?? 0) / 1000)}s`);
  if (first.length > 0) parts.push(`first: ${first.join(' ')}`);
  if (view.problems.length > 0) parts.push(`problems: ${view.problems.join('; ')}`);
  return parts.join(' ');
}
