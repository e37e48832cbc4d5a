/**
 * The ClickHouse side of usage-ingest: INSERTs (one block each, with a deterministic query_id), the recovery reads
 * (watermark and recent ids of a partition), lookups by event id, and retention. Every value reaches SQL through
 * `sql`/`quote`/`identifier` (the server has no query parameters).
 */
import { Readable } from 'node:stream';
import { Clickhouse, clickhouseErrorCode, identifier, isRetriableClickhouseError, quote } from '@access/platform-clickhouse';
import type { PartitionWatermark, UsageStorePort } from '@access/usage-application';
import { dateTimeOfMs, expiredPartitions, type IngestTable } from '@access/usage-domain';

/** Tables that retention drops month partitions from: the tables of record and their rollups. */
export const RETAINED_TABLES = [
  'admission_decisions',
  'request_usage',
  'ledger_entries',
  'usage_minutely',
  'decisions_minutely',
  'user_activity_minutely',
] as const;

/**
 * The SQL of a table's dedupe key (`dedupeKeyOf` in @access/usage-domain): a completion is one row per admission;
 * every other event one row per (source, id), spelled as `eventIdentity` spells it.
 */
function dedupeKeySql(table: IngestTable): string {
  return table === 'request_usage' ? 'admission_id' : "concat(event_source, ' ', event_id)";
}

/** Keys per lookup query are bounded by count and by bytes, to stay below ClickHouse's max_query_size (256 KiB). */
const lookupBytesPerQueryMax = 128 * 1024;

/** ClickHouse's QUERY_WITH_SAME_ID_IS_ALREADY_RUNNING: the previous attempt of this very INSERT is still running. */
const queryAlreadyRunning = 216;

/**
 * ClickHouse error codes that blame the rows themselves: text, numbers, dates or arrays it cannot parse, a type
 * mismatch, a value out of range, malformed input. Only these may dead-letter an event; retrying would fail the same.
 */
export const ROW_REJECTION_CODES: ReadonlySet<number> = new Set([
  6, // CANNOT_PARSE_TEXT
  26, // CANNOT_PARSE_QUOTED_STRING
  27, // CANNOT_PARSE_INPUT_ASSERTION_FAILED
  32, // ATTEMPT_TO_READ_AFTER_EOF
  38, // CANNOT_PARSE_DATE
  41, // CANNOT_PARSE_DATETIME
  53, // TYPE_MISMATCH
  69, // ARGUMENT_OUT_OF_BOUND
  70, // CANNOT_CONVERT_TYPE
  72, // CANNOT_PARSE_NUMBER
  117, // INCORRECT_DATA
  130, // CANNOT_READ_ARRAY_FROM_TEXT
  131, // TOO_LARGE_STRING_SIZE
]);

/**
 * True unless ClickHouse refused the rows themselves (ROW_REJECTION_CODES): the failed request may still have been
 * applied, or may succeed when tried again, so the caller re-reads the watermark and retries. Everything that is
 * not the data's fault is retried, never dead-lettered: the server down or shutting down (while it stops, it
 * answers UNKNOWN_TABLE for tables it has already unloaded), overload, timeouts, a missing table or database, a
 * read-only or unauthorized user, the same INSERT still running. The pipeline then stalls, visibly (lag,
 * retries), instead of dropping events of record.
 */
export function isRetriableStoreError(error: unknown): boolean {
  if (isRetriableClickhouseError(error) || clickhouseErrorCode(error) === queryAlreadyRunning) return true;
  const code = clickhouseErrorCode(error);
  return code === undefined || !ROW_REJECTION_CODES.has(code);
}

export class ClickhouseUsageStore implements UsageStorePort {
  private readonly db: string;

  constructor(private readonly ch: Clickhouse) {
    this.db = identifier(ch.database);
  }

  get database(): string {
    return this.ch.database;
  }

  /** `isRetriableStoreError`: false only when ClickHouse refused the rows themselves. */
  isRetriable(error: unknown): boolean {
    return isRetriableStoreError(error);
  }

  ping(): Promise<boolean> {
    return this.ch.ping();
  }

  /** Inserts JSONEachRow lines as one INSERT (one block: stored whole or not at all), named `queryId`. */
  async insertLines(table: IngestTable, lines: readonly string[], queryId: string): Promise<void> {
    if (lines.length === 0) return;
    const result = await this.ch.client.exec({
      query: `INSERT INTO ${this.db}.${identifier(table)} FORMAT JSONEachRow`,
      values: Readable.from([lines.join('\n')]),
      query_id: queryId,
    });
    // The server answers an INSERT after writing it; drain the (empty) body so the socket is reused.
    for await (const _chunk of result.stream) {
      // nothing to read
    }
  }

  /**
   * Waits until the query `queryId` no longer runs on the server (or `timeoutMs` passed). After an INSERT failed on
   * the client side (a timeout, a reset connection) the server may still be writing it; reading the watermark only
   * after it finished means the retry sees its rows if it landed.
   */
  async waitUntilFinished(queryId: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const rows = await this.ch.query<{ n: string }>(`SELECT count() AS n FROM system.processes WHERE query_id = ${quote(queryId)}`);
      if (Number(rows[0]?.n ?? 0) === 0) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Highest stored offset and row count of each given partition of `topic` in `table`. */
  async watermarks(table: IngestTable, topic: string, partitions: readonly number[]): Promise<Map<number, PartitionWatermark>> {
    const out = new Map<number, PartitionWatermark>(partitions.map((p) => [p, { watermark: -1n, rows: 0 }]));
    if (partitions.length === 0) return out;
    const rows = await this.ch.query<{ p: number; w: string; n: string }>(
      `SELECT kafka_partition AS p, max(kafka_offset) AS w, count() AS n FROM ${this.db}.${identifier(table)} ` +
        `WHERE kafka_topic = ${quote(topic)} AND kafka_partition IN (${partitions.map((p) => quote(p)).join(', ')}) GROUP BY kafka_partition`,
    );
    for (const row of rows) out.set(Number(row.p), { watermark: BigInt(row.w), rows: Number(row.n) });
    return out;
  }

  /** Dedupe keys (with their Kafka timestamps) stored for one partition above `afterOffset`, in offset order. */
  async recentKeys(table: IngestTable, topic: string, partition: number, afterOffset: bigint): Promise<{ key: string; timestampMs: number }[]> {
    const rows = await this.ch.query<{ k: string; ts: string }>(
      `SELECT ${dedupeKeySql(table)} AS k, kafka_timestamp_ms AS ts FROM ${this.db}.${identifier(table)} ` +
        `WHERE kafka_topic = ${quote(topic)} AND kafka_partition = ${quote(partition)} AND kafka_offset > ${quote(afterOffset)} ORDER BY kafka_offset`,
    );
    return rows.map((r) => ({ key: r.k, timestampMs: Number(r.ts) }));
  }

  /**
   * Which of these dedupe keys are stored. The account ids narrow the scan to their primary-key ranges; the time
   * range, when given, to the month partitions the rows can be in. Only copies of one event share a time: two
   * completions of one admission may report different times, so completions are looked up without one.
   */
  async existingKeys(
    table: IngestTable,
    lookup: { keys: readonly string[]; accountIds: readonly string[]; time?: { min: string; max: string } },
    keysPerQueryMax: number,
  ): Promise<Set<string>> {
    const found = new Set<string>();
    const accounts = [...new Set(lookup.accountIds)];
    const time = lookup.time === undefined ? '' : `AND time >= ${quote(lookup.time.min)} AND time <= ${quote(lookup.time.max)} `;
    for (const keys of boundedChunks(lookup.keys.map(quote), keysPerQueryMax, lookupBytesPerQueryMax)) {
      const rows = await this.ch.query<{ k: string }>(
        `SELECT ${dedupeKeySql(table)} AS k FROM ${this.db}.${identifier(table)} WHERE account_id IN (${accounts.map(quote).join(', ')}) ` +
          `${time}AND ${dedupeKeySql(table)} IN (${keys.join(', ')})`,
      );
      for (const r of rows) found.add(r.k);
    }
    return found;
  }

  /**
   * The allowance part of these admissions' decisions, as stored in `admission_decisions` (admitted decisions only;
   * an admission missing from the map has no stored admitted decision). A decision's `time` is when admission
   * decided, which is also the time in its admissionId (a UUIDv7 admission made at that moment): the account ids and
   * that time range, widened by `timeMarginMs`, narrow the scan to the rows the decisions can be in.
   */
  async decisionAllowances(
    lookup: { accountIds: readonly string[]; admissionIds: readonly string[]; timeMinMs: number; timeMaxMs: number; timeMarginMs: number },
    idsPerQueryMax: number,
  ): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    const accounts = [...new Set(lookup.accountIds)];
    const from = dateTimeOfMs(Math.max(0, lookup.timeMinMs - lookup.timeMarginMs));
    const to = dateTimeOfMs(lookup.timeMaxMs + lookup.timeMarginMs);
    for (const ids of boundedChunks([...new Set(lookup.admissionIds)].map(quote), idsPerQueryMax, lookupBytesPerQueryMax)) {
      const rows = await this.ch.query<{ admission_id: string; allowance_credits: string }>(
        `SELECT admission_id, any(allowance_credits) AS allowance_credits FROM ${this.db}.admission_decisions ` +
          `WHERE account_id IN (${accounts.map(quote).join(', ')}) AND time >= ${quote(from)} AND time <= ${quote(to)} ` +
          `AND decision = 'admitted' AND admission_id IN (${ids.join(', ')}) GROUP BY admission_id`,
      );
      for (const r of rows) out.set(r.admission_id, Number(r.allowance_credits));
    }
    return out;
  }

  /** Active month partitions of a table. */
  async partitions(table: string): Promise<string[]> {
    const rows = await this.ch.query<{ partition: string }>(
      `SELECT DISTINCT partition FROM system.parts WHERE database = ${quote(this.ch.database)} AND table = ${quote(table)} AND active`,
    );
    return rows.map((r) => r.partition);
  }

  /**
   * Drops every month partition wholly older than `retentionDays`, in every retained table; returns what it dropped.
   * Idempotent: dropping a partition that is already gone is a no-op in ClickHouse.
   */
  async dropExpired(nowMs: number, retentionDays: number): Promise<{ table: string; partition: string }[]> {
    const dropped: { table: string; partition: string }[] = [];
    for (const table of RETAINED_TABLES) {
      for (const partition of expiredPartitions(await this.partitions(table), nowMs, retentionDays)) {
        // expiredPartitions returns only six-digit months, so the partition expression is a plain number.
        await this.ch.command(`ALTER TABLE ${this.db}.${identifier(table)} DROP PARTITION ${quote(Number(partition))}`);
        dropped.push({ table, partition });
      }
    }
    return dropped;
  }
}

/** Splits quoted SQL values into lists of at most `countMax` values and about `bytesMax` characters each. */
function* boundedChunks(values: readonly string[], countMax: number, bytesMax: number): Generator<string[]> {
  let chunk: string[] = [];
  let bytes = 0;
  for (const value of values) {
    if (chunk.length > 0 && (chunk.length >= countMax || bytes + value.length > bytesMax)) {
      yield chunk;
      chunk = [];
      bytes = 0;
    }
    chunk.push(value);
    bytes += value.length + 2;
  }
  if (chunk.length > 0) yield chunk;
}
