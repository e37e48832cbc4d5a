import { describe, expect, it } from 'vitest';
import {
  OUTCOME_NAMES,
  bucketsBetween,
  freshnessLine,
  histogramBuckets,
  parsePrometheus,
  parseTrafficLine,
  plainSummary,
  pushReading,
  pushSnapshot,
  quantileOf,
  ratesOf,
  renderSummary,
  summaryLimits,
  topAccounts,
  type Bucket,
  type HistogramReading,
  type Snapshot,
  type SummaryView,
} from './summary';

const trafficJson = {
  type: 'stats',
  runId: 'r1',
  atMs: 10_000,
  accounts: [
    { accountId: 'sim-r1-payg', plan: 'payg', grants: [] },
    { accountId: 'sim-r1-studio', plan: 'pro', grants: [] },
    { accountId: 'sim-r1-free', plan: 'free', grants: [] },
  ],
  stats: {
    startedAtMs: 0,
    counts: { admitted_allowance: 5, admitted_credits: 3, rate_limited: 9, concurrency_limited: 1, load_shed: 2, insufficient_credits: 1, error: 0 },
    byPersona: {},
    admittedCreditsByAccount: { 'sim-r1-payg': 40, 'sim-r1-studio': 900, 'sim-r1-free': 40 },
    firstAtMs: { admitted_allowance: 1200, load_shed: 45_000 },
    sentRequests: 21,
    cappedRequests: 0,
    completionsSent: 4,
    completionErrors: 0,
    running: 3,
  },
};

function view(overrides: Partial<SummaryView> = {}): SummaryView {
  const traffic = parseTrafficLine(JSON.stringify(trafficJson));
  return {
    nowMs: 60_000,
    startedAtMs: 0,
    readyAfterMs: 20_000,
    traffic,
    trafficRates: { rate_limited: 2.5 },
    admissionRates: { 'admitted/none': 3 },
    accounts: topAccounts(traffic, new Map([['sim-r1-studio', { balanceCredits: 70_000, heldCredits: 600, availableCredits: 69_400 }]])),
    multipliers: [
      { name: 'load_feedback_multiplier', labels: { model: 'sora-2', plan: 'pro', priority: 'batch' }, value: 0 },
      { name: 'load_feedback_multiplier', labels: { model: 'codex-1', plan: 'pro', priority: 'batch' }, value: 1 },
    ],
    lag: [{ group: 'credit-ledger', topic: 'access.usage.v1', lag: 12 }, { group: 'usage-ingest.ledger_entries', topic: 'access.ledger.v1', lag: null }],
    freshness: 'p50 12 ms, p99 48 ms (last 10 s, 1,234 balances)',
    problems: [],
    ...overrides,
  };
}

describe('parsePrometheus', () => {
  it('given prom-client text, then reads names, labels (escaped quotes too) and values, skipping comments', () => {
    const samples = parsePrometheus(
      [
        '# HELP admission_decisions_total Decisions',
        '# TYPE admission_decisions_total counter',
        'admission_decisions_total{decision="admitted",reason="none",service="admission"} 42',
        'load_feedback_multiplier{model="sora-2",plan="pro",priority="batch"} 0.25',
        'weird{note="a \\"quoted\\" word"} 1',
        'process_cpu_seconds_total 3.5',
        'garbage line',
      ].join('\n'),
    );
    expect(samples).toEqual([
      { name: 'admission_decisions_total', labels: { decision: 'admitted', reason: 'none', service: 'admission' }, value: 42 },
      { name: 'load_feedback_multiplier', labels: { model: 'sora-2', plan: 'pro', priority: 'batch' }, value: 0.25 },
      { name: 'weird', labels: { note: 'a "quoted" word' }, value: 1 },
      { name: 'process_cpu_seconds_total', labels: {}, value: 3.5 },
    ]);
  });
});

describe('parseTrafficLine', () => {
  it.each([['not json'], ['{"type":"other"}'], [JSON.stringify({ ...trafficJson, stats: { counts: {} } })]])('given %s, then nothing', (line) => {
    expect(parseTrafficLine(line)).toBeUndefined();
  });
  it('given a stats line, then its counts', () => {
    expect(parseTrafficLine(JSON.stringify(trafficJson))?.stats.counts['load_shed']).toBe(2);
  });
});

describe('ratesOf', () => {
  it('given counts over 5 s, then per-second rates over the window', () => {
    const snapshots: Snapshot[] = [];
    for (let s = 0; s <= 10; s++) pushSnapshot(snapshots, { atMs: s * 1000, counts: { a: s * 4, b: 7 } });
    expect(ratesOf(snapshots, 5_000)).toEqual({ a: 4, b: 0 });
  });
  it('given one snapshot or none, then zero or nothing', () => {
    expect(ratesOf([])).toEqual({});
    expect(ratesOf([{ atMs: 1, counts: { a: 3 } }])).toEqual({ a: 0 });
  });
  it('keeps at most snapshotsMax snapshots', () => {
    const snapshots: Snapshot[] = [];
    for (let i = 0; i < summaryLimits.snapshotsMax * 2; i++) pushSnapshot(snapshots, { atMs: i, counts: {} });
    expect(snapshots.length).toBe(summaryLimits.snapshotsMax);
    expect(snapshots[snapshots.length - 1]!.atMs).toBe(summaryLimits.snapshotsMax * 2 - 1);
  });
});

describe('topAccounts', () => {
  it('orders by credits admitted, with plans and the balances the ledger answered', () => {
    const rows = view().accounts;
    expect(rows.map((r) => r.accountId)).toEqual(['sim-r1-studio', 'sim-r1-free', 'sim-r1-payg']);
    expect(rows[0]).toMatchObject({ plan: 'pro', spentCredits: 900, balance: { availableCredits: 69_400 } });
    expect(rows[1]!.balance).toBeUndefined();
  });
});

describe('renderSummary', () => {
  it('shows every outcome, when it first occurred, shed multipliers, lag and freshness', () => {
    const text = renderSummary(view(), false).join('\n');
    for (const o of OUTCOME_NAMES) expect(text).toContain(o);
    expect(text).toMatch(/load_shed\s+-?\s*\S*\s+2\s+45\.0 s/);
    expect(text).toContain('sora-2 pro batch');
    expect(text).toContain('(shed)');
    expect(text).not.toContain('codex-1 pro batch');
    expect(text).toMatch(/credit-ledger\s+access\.usage\.v1\s+12/);
    expect(text).toContain('no commits yet');
    expect(text).toContain('Ledger-to-admission freshness: p50 12 ms, p99 48 ms (last 10 s, 1,234 balances)');
    expect(text).toContain('69400');
    expect(text).not.toContain('\u001b[');
  });
  it('says so when nothing reports yet, and lists problems', () => {
    const text = renderSummary(view({ traffic: undefined, accounts: [], multipliers: [], lag: [], problems: ['fleet-simulator exited (1)'] }), false).join('\n');
    expect(text).toContain('traffic simulator not reporting yet');
    expect(text).toContain('published none yet');
    expect(text).toContain('! fleet-simulator exited (1)');
  });
});

describe('plainSummary', () => {
  it('is one line with the counts, the shed multipliers and the total lag', () => {
    const line = plainSummary(view());
    expect(line).not.toContain('\n');
    expect(line).toContain('[start 60s]');
    expect(line).toContain('load_shed=2');
    expect(line).toContain('shed=1 lowest=sora-2/pro/batch:0.00');
    expect(line).toContain('lag=12');
    expect(line).toContain('first: admitted_allowance@1s load_shed@45s');
    expect(line).toContain('freshness: p50 12 ms, p99 48 ms');
  });
});

const INF = Number.POSITIVE_INFINITY;
/** Cumulative buckets from per-bucket counts over the given upper bounds (+Inf appended). */
function cumulative(bounds: number[], perBucket: number[]): Bucket[] {
  let total = 0;
  return [...bounds, INF].map((le, i) => ({ le, count: (total += perBucket[i] ?? 0) }));
}
const bounds = [0.005, 0.01, 0.02, 0.05, 0.1];

describe('histogramBuckets', () => {
  it('given prom-client histogram text, then its cumulative buckets ascending, +Inf last', () => {
    const samples = parsePrometheus(
      [
        '# TYPE h_seconds histogram',
        'h_seconds_bucket{le="0.01",service="admission"} 3',
        'h_seconds_bucket{le="+Inf",service="admission"} 5',
        'h_seconds_bucket{le="0.005",service="admission"} 1',
        'h_seconds_sum{service="admission"} 0.2',
        'h_seconds_count{service="admission"} 5',
        'other_bucket{le="1"} 9',
      ].join('\n'),
    );
    expect(histogramBuckets(samples, 'h_seconds')).toEqual([{ le: 0.005, count: 1 }, { le: 0.01, count: 3 }, { le: INF, count: 5 }]);
    expect(histogramBuckets(samples, 'missing_seconds')).toBeUndefined();
  });
});

describe('quantileOf', () => {
  it.each<[string, Bucket[], number, number | undefined]>([
    ['no observation', cumulative(bounds, []), 0.5, undefined],
    ['all in one bucket: interpolated within it', cumulative(bounds, [0, 0, 10]), 0.5, 0.015],
    ['the first bucket starts at 0', cumulative(bounds, [4]), 0.5, 0.0025],
    ['p99 of 100 with one slow observation', cumulative(bounds, [0, 99, 0, 0, 1]), 0.99, 0.01],
    ['p99 of 100 with two slow observations', cumulative(bounds, [0, 98, 0, 0, 2]), 0.99, 0.075],
    ['beyond the last finite bound', cumulative(bounds, [1, 0, 0, 0, 0, 9]), 0.5, INF],
    ['empty buckets are skipped', cumulative(bounds, [2, 0, 0, 2]), 0.75, 0.035],
  ])('given %s', (_name, buckets, q, expected) => {
    const value = quantileOf(buckets, q);
    if (expected === undefined || expected === INF) expect(value).toBe(expected);
    else expect(value).toBeCloseTo(expected, 9);
  });
});

describe('bucketsBetween', () => {
  it.each<[string, Bucket[] | undefined, Bucket[], number[]]>([
    ['the observations in between, per bucket', cumulative(bounds, [1, 2]), cumulative(bounds, [1, 5, 4]), [0, 3, 7, 7, 7, 7]],
    ['no older reading: all of them', undefined, cumulative(bounds, [1, 2]), [1, 3, 3, 3, 3, 3]],
    ['a restart (fewer than before): the newer reading alone', cumulative(bounds, [10, 10]), cumulative(bounds, [1, 1]), [1, 2, 2, 2, 2, 2]],
  ])('given %s', (_name, older, newer, expected) => {
    expect(bucketsBetween(older, newer).map((b) => b.count)).toEqual(expected);
  });
});

describe('freshnessLine', () => {
  const reading = (atMs: number, perBucket: number[]): HistogramReading => ({ atMs, buckets: cumulative(bounds, perBucket) });
  it.each<[string, HistogramReading[], string]>([
    ['no reading yet', [], 'measuring…'],
    ['one reading', [reading(0, [5])], 'measuring…'],
    ['nothing observed in the window', [reading(0, [5]), reading(10_000, [5])], 'no balance changed in the last 10 s'],
    [
      'observations in the window only, not the older ones',
      // Old and fast (before the window), then 100 in the window: 50 in 10-20 ms, 49 in 20-50 ms, one in 50-100 ms.
      [reading(0, [1_000]), reading(1_000, [1_000]), reading(11_000, [1_000, 0, 50, 49, 1])],
      'p50 20 ms, p99 50 ms (last 10 s, 100 balances)',
    ],
    ['under 10 ms: one decimal, and one balance', [reading(0, []), reading(10_000, [1])], 'p50 2.5 ms, p99 5.0 ms (last 10 s, 1 balance)'],
    ['p99 beyond 10 s', [reading(0, []), reading(10_000, [1, 0, 0, 0, 0, 1])], 'p50 5.0 ms, p99 over 10 s (last 10 s, 2 balances)'],
    ['thousands separated', [reading(0, []), reading(10_000, [0, 1_234])], 'p50 7.5 ms, p99 10 ms (last 10 s, 1,234 balances)'],
  ])('given %s', (_name, readings, expected) => {
    expect(freshnessLine(readings, 10_000)).toBe(expected);
  });

  it('uses the oldest reading within the window, and keeps at most snapshotsMax readings', () => {
    const readings: HistogramReading[] = [];
    for (let s = 0; s <= summaryLimits.snapshotsMax + 5; s++) pushReading(readings, reading(s * 1_000, [s]));
    expect(readings.length).toBe(summaryLimits.snapshotsMax);
    // One observation a second: ten in the last 10 s.
    expect(freshnessLine(readings, 10_000)).toMatch(/\(last 10 s, 10 balances\)$/);
  });
});
