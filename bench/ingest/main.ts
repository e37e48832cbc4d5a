/**
 * bench/ingest: usage-ingest from Kafka into ClickHouse, on the running local stack (`npm run infra:up`).
 *
 * 1. Throughput: N mixed events (decisions, completions, ledger entries) are published to fresh topics first; then
 *    the sink starts as its own process (apps/usage-ingest/src/worker.ts, as in production) and we time from its
 *    consumers being assigned to the last row being queryable. Baseline, same run: the same rows, already mapped,
 *    written to JSONEachRow files and inserted with `clickhouse-client` into a fresh database with the same schema
 *    (materialized views included), which is the ceiling of what the server itself accepts on this machine.
 * 2. Latency: with the sink caught up, events are published at a steady 10,000/s; a poller records when each row
 *    becomes queryable and the lag is that moment minus the message's Kafka timestamp (set when it was published).
 * 3. Parse cost: the contract's zod validation per event type, in this process, per event.
 *
 * Each figure is the median of RUNS runs (default 3). Prints a JSON summary and writes its section of
 * docs/benchmarks.md. Run: npx tsx bench/ingest/main.ts   (env: EVENTS, RUNS, LAG_SECONDS, LAG_RATE)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { EVENTS, goldenEventJson, newEventId, parseEvent, type EventType } from '@access/contracts';
import { identifier, migrateClickhouse } from '@access/platform-clickhouse';
import { sleep } from '@access/platform-kafka';
import { requireStack, testName } from '@access/testing';
import { loadPriceBook, priceFnOf } from '@access/usage-adapters';
import { INGEST_TABLES, mapEvent, type IngestTable } from '@access/usage-domain';
import { generateMix, type GeneratedMessage } from '../../apps/usage-ingest/test/events';
import { createRun, migrationsDir, outgoing, repoRoot, startWorker, storedRows, waitCaughtUp, type IngestRun } from '../../apps/usage-ingest/test/harness';
import { machine, median, percentile, writeSection } from '../report';

const events = Number(process.env.EVENTS ?? 300_000);
const runs = Number(process.env.RUNS ?? 3);
const lagSeconds = Number(process.env.LAG_SECONDS ?? 20);
const lagRate = Number(process.env.LAG_RATE ?? 10_000);
const pollIntervalMs = 50;

async function throughputRun(seed: number): Promise<{ sinkEventsPerSecond: number; baselineEventsPerSecond: number; publishEventsPerSecond: number }> {
  const stack = await requireStack(['kafka', 'clickhouse']);
  const run = await createRun(stack);
  try {
    const mix = generateMix({ events, duplicateRatio: 0, poisonRatio: 0, seed, startMs: Date.now() - 600_000 });
    const messages = outgoing(run, mix.messages);
    const p0 = performance.now();
    for (let i = 0; i < messages.length; i += 20_000) await run.producer.sendMany(messages.slice(i, i + 20_000));
    const publishSeconds = (performance.now() - p0) / 1000;

    const worker = startWorker({ ...run.workerEnv, USAGE_INGEST_SESSION_TIMEOUT_MS: '30000' });
    await worker.ready;
    const t0 = performance.now();
    while ((await storedRows(run.ch, run.database)) < mix.unique.length) await sleep(pollIntervalMs);
    const sinkSeconds = (performance.now() - t0) / 1000;
    worker.process.kill('SIGTERM');
    await worker.exited;

    const baselineSeconds = await baseline(stack.clickhouseUrl, mix.messages);
    return {
      sinkEventsPerSecond: mix.unique.length / sinkSeconds,
      baselineEventsPerSecond: mix.unique.length / baselineSeconds,
      publishEventsPerSecond: mix.unique.length / publishSeconds,
    };
  } finally {
    await run.close();
  }
}

/** The same rows, mapped exactly as the sink maps them, inserted from files by clickhouse-client. */
async function baseline(clickhouseUrl: string, messages: readonly GeneratedMessage[]): Promise<number> {
  const database = testName('baseline');
  await migrateClickhouse({ url: clickhouseUrl, database, dir: migrationsDir });
  const dir = mkdtempSync(join(tmpdir(), 'ingest-baseline-'));
  const price = priceFnOf(loadPriceBook(join(repoRoot, 'config')));
  const lines = new Map<IngestTable, string[]>(INGEST_TABLES.map((t) => [t, []]));
  const now = Date.now();
  messages.forEach((m, offset) => {
    const mapped = mapEvent(m.event!, { topic: 'baseline', partition: 0, offset: String(offset), timestampMs: now }, { price, nowMs: now });
    if (mapped.ok) lines.get(mapped.table)!.push(JSON.stringify(mapped.row));
  });
  const files = [...lines].map(([table, rows]) => {
    const file = join(dir, `${table}.jsonl`);
    writeFileSync(file, rows.join('\n') + '\n');
    return { table, file };
  });
  const host = new URL(clickhouseUrl).hostname;
  const t0 = performance.now();
  for (const { table, file } of files) {
    const input = openSync(file, 'r');
    const result = spawnSync('clickhouse-client', ['--host', host, '--query', `INSERT INTO ${identifier(database)}.${identifier(table)} FORMAT JSONEachRow`], {
      stdio: [input, 'pipe', 'pipe'],
    });
    closeSync(input);
    if (result.status !== 0) throw new Error(`clickhouse-client: ${result.stderr.toString()}`);
  }
  const seconds = (performance.now() - t0) / 1000;
  execFileSync('clickhouse-client', ['--host', host, '--query', `DROP DATABASE ${identifier(database)}`]);
  rmSync(dir, { recursive: true, force: true });
  return seconds;
}

async function lagRun(seed: number): Promise<{ p50Ms: number; p99Ms: number; maxMs: number; rows: number; achievedRate: number }> {
  const stack = await requireStack(['kafka', 'clickhouse']);
  const run = await createRun(stack);
  try {
    const total = lagRate * lagSeconds;
    const mix = generateMix({ events: total, duplicateRatio: 0, poisonRatio: 0, seed, startMs: Date.now() });
    const messages = outgoing(run, mix.messages.slice(0, total));
    const worker = startWorker({ ...run.workerEnv, USAGE_INGEST_SESSION_TIMEOUT_MS: '30000' });
    await worker.ready;
    const lags: number[] = [];
    let polling = true;
    const poller = poll(run, lags, () => polling);
    // Publish at a steady rate: every 10 ms, the messages due by then.
    const t0 = performance.now();
    let sent = 0;
    const inFlight: Promise<void>[] = [];
    while (sent < messages.length) {
      const due = Math.min(messages.length, Math.floor(((performance.now() - t0) / 1000) * lagRate));
      if (due > sent) {
        inFlight.push(run.producer.sendMany(messages.slice(sent, due)));
        sent = due;
      }
      await sleep(10);
    }
    await Promise.all(inFlight);
    const achievedRate = sent / ((performance.now() - t0) / 1000);
    await waitCaughtUp(run, 60_000);
    while (lags.length < messages.length) await sleep(pollIntervalMs);
    polling = false;
    await poller;
    worker.process.kill('SIGTERM');
    await worker.exited;
    return { p50Ms: percentile(lags, 50), p99Ms: percentile(lags, 99), maxMs: lags.reduce((m, x) => (x > m ? x : m), 0), rows: lags.length, achievedRate };
  } finally {
    await run.close();
  }
}

/**
 * Records, for every row that appeared since the last poll, now − its Kafka timestamp. One query per poll for the
 * three tables (a query's fixed cost on this 2-core machine is what the sink would otherwise lose).
 */
async function poll(run: IngestRun, lags: number[], active: () => boolean): Promise<void> {
  const seen = new Map<string, bigint>(); // `${table}:${partition}` → highest offset seen
  while (active()) {
    const selects = INGEST_TABLES.map((table, t) => {
      const mine = [...seen].filter(([k]) => k.startsWith(`${table}:`));
      const conditions = mine.map(([k, o]) => `(kafka_partition = ${Number(k.split(':')[1])} AND kafka_offset > ${o})`);
      const known = mine.map(([k]) => Number(k.split(':')[1]));
      conditions.push(known.length ? `kafka_partition NOT IN (${known.join(', ')})` : '1');
      return `SELECT ${t} AS t, kafka_partition AS p, kafka_offset AS o, kafka_timestamp_ms AS ts FROM ${identifier(table)} WHERE ${conditions.join(' OR ')}`;
    });
    const rows = await run.ch.query<{ t: number; p: number; o: string; ts: string }>(selects.join(' UNION ALL '));
    const observedMs = Date.now();
    for (const r of rows) {
      lags.push(observedMs - Number(r.ts));
      const key = `${INGEST_TABLES[Number(r.t)]}:${r.p}`;
      const o = BigInt(r.o);
      if ((seen.get(key) ?? -1n) < o) seen.set(key, o);
    }
    await sleep(pollIntervalMs);
  }
}

function parseCost(): Record<string, number> {
  const out: Record<string, number> = {};
  const types: EventType[] = [EVENTS.admissionDecided, EVENTS.usageRequestCompleted, EVENTS.reservationSettled];
  for (const type of types) {
    const texts = Array.from({ length: 20_000 }, () => JSON.stringify({ ...goldenEventJson(type), id: newEventId() }));
    const samples: number[] = [];
    for (let r = 0; r < 5; r++) {
      const t0 = performance.now();
      for (const text of texts) parseEvent(JSON.parse(text));
      samples.push(((performance.now() - t0) * 1000) / texts.length);
    }
    out[type.replace('io.access.', '').replace('.v1', '')] = Number(median(samples).toFixed(2));
  }
  return out;
}

async function main(): Promise<void> {
  const loadBefore = loadavg()[0]!;
  const parse = parseCost();
  const throughput = [];
  const latency = [];
  for (let i = 0; i < runs; i++) {
    const t = await throughputRun(1_000 + i);
    console.log(`run ${i + 1}/${runs} throughput: sink ${t.sinkEventsPerSecond.toFixed(0)}/s, clickhouse-client ${t.baselineEventsPerSecond.toFixed(0)}/s`);
    throughput.push(t);
    const l = await lagRun(2_000 + i);
    console.log(`run ${i + 1}/${runs} lag at ${l.achievedRate.toFixed(0)}/s: p50 ${l.p50Ms} ms, p99 ${l.p99Ms} ms`);
    latency.push(l);
  }
  const summary = {
    benchmark: 'ingest',
    date: new Date().toISOString(),
    machine: machine(),
    runs,
    events,
    sinkEventsPerSecond: Math.round(median(throughput.map((t) => t.sinkEventsPerSecond))),
    clickhouseClientEventsPerSecond: Math.round(median(throughput.map((t) => t.baselineEventsPerSecond))),
    sinkToBaselineRatio: Number((median(throughput.map((t) => t.sinkEventsPerSecond / t.baselineEventsPerSecond))).toFixed(2)),
    publishEventsPerSecond: Math.round(median(throughput.map((t) => t.publishEventsPerSecond))),
    lagRateEventsPerSecond: Math.round(median(latency.map((l) => l.achievedRate))),
    lagSeconds,
    lagP50Ms: median(latency.map((l) => l.p50Ms)),
    lagP99Ms: median(latency.map((l) => l.p99Ms)),
    lagMaxMs: median(latency.map((l) => l.maxMs)),
    pollIntervalMs,
    parseMicrosecondsPerEvent: parse,
    // The machine is shared: the 1-minute load average before and after says how much else was running.
    loadAverage1m: { before: Number(loadBefore.toFixed(2)), after: Number(loadavg()[0]!.toFixed(2)) },
    perRun: { throughput, latency },
  };
  console.log(JSON.stringify(summary, null, 2));
  writeSection(
    'ingest',
    `## usage-ingest: Kafka → ClickHouse (bench/ingest)

Command: \`npx tsx bench/ingest/main.ts\` (EVENTS=${events}, RUNS=${runs}) · machine: ${summary.machine} · ${summary.date.slice(0, 10)} · medians of ${runs} runs · 1-minute load average ${summary.loadAverage1m.before} before, ${summary.loadAverage1m.after} after (2 cores; above 2 means other work shared them).

| figure | median |
| --- | --- |
| sink, sustained, from a pre-loaded backlog of ${events} mixed events (3 topics × 8 partitions → 3 tables + 4 materialized views) | **${summary.sinkEventsPerSecond.toLocaleString('en-US')} events/s** |
| baseline: \`clickhouse-client\` inserting the same rows from JSONEachRow files, same schema | ${summary.clickhouseClientEventsPerSecond.toLocaleString('en-US')} events/s |
| sink / baseline | ${summary.sinkToBaselineRatio} |
| publish-to-queryable lag at ${summary.lagRateEventsPerSecond.toLocaleString('en-US')} events/s for ${lagSeconds} s: p50 / p99 / max | ${summary.lagP50Ms} / **${summary.lagP99Ms}** / ${summary.lagMaxMs} ms |
| contract parse (JSON.parse + zod) per event: admission.decided / usage.request_completed / ledger.reservation_settled | ${Object.values(parse).join(' / ')} µs |

What was measured, honestly: the sink runs as its own process (the production worker) on the same 2 cores as Kafka,
ClickHouse and the benchmark's own producer and poller; the throughput clock starts once its consumers are
assigned and stops when the last row is queryable (polled every ${pollIntervalMs} ms). The baseline skips Kafka and
parsing entirely (rows pre-mapped), so it is the ceiling the server sets. Lag is "poll time − Kafka message
timestamp", so it includes up to ${pollIntervalMs} ms of polling granularity and the poller's own load. The goal of
100,000 events/s ${summary.sinkEventsPerSecond >= 100_000 ? 'is met' : 'is **not** met on this machine'}; the parse cost above
times the event rate is the CPU the contract validation alone takes.

Where the time goes: ClickHouse is not the limit (the baseline is several times faster, and the sink writes few,
large INSERTs: concurrent partition batches share one per table). The sink is one Node thread doing, per event,
kafkajs's record decoding, \`JSON.parse\` and the contract's zod validation (the figures above), row mapping and
\`JSON.stringify\`: some 20–40 µs, so one process tops out at a few tens of thousands of events per second, and this
machine has two cores for everything. The design scales by partitions (each table's consumer group takes up to 8
instances); reaching 100,000 events/s needs about four cores' worth of sink processes, or a cheaper validation
path for trusted producers, which the contract does not allow today.`,
  );
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
