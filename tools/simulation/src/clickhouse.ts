/**
 * Simulated ClickHouse, as usage-ingest sees it: tables of rows with their Kafka origin, the reads recovery and the
 * id lookup make, and INSERTs that can fail. An INSERT is stored whole, or not at all (connection reset), or, when
 * the server split it into blocks, as a prefix of its rows before it failed; and a server that is shutting down
 * answers UNKNOWN_TABLE (code 60) for a while, then refuses connections, then comes back.
 */
import type { IngestTable } from '@access/usage-domain';
import type { World } from './world';

export interface StoredRow {
  readonly eventId: string;
  /** The sink's dedupe key (`dedupeKeyOf`): the admissionId of a completion, source and id of any other event. */
  readonly key: string;
  readonly partition: number;
  readonly offset: number;
  readonly timestampMs: number;
  readonly admissionId: string;
}

interface PartitionRows {
  max: number;
  readonly rows: StoredRow[];
}

export class SimClickhouse {
  private readonly partitions = new Map<string, PartitionRows>();
  /** Rows per event id in each table. */
  private readonly ids = new Map<IngestTable, Map<string, number>>();
  /** Rows per dedupe key in each table (what the sink looks up). */
  private readonly keys = new Map<IngestTable, Map<string, number>>();
  /** Rows per admission in each table: the invariants read these. */
  readonly rowsPerAdmission = new Map<IngestTable, Map<string, number>>();
  /** Every time a table got a second row of one admission, or of one event id. */
  readonly secondRows: { table: IngestTable; of: 'admission' | 'event'; id: string }[] = [];
  private unknownTableUntilMs = -1;
  private refusingUntilMs = -1;

  constructor(private readonly world: World) {}

  /** The server starts shutting down now; it is back after a few seconds. */
  shutDown(): void {
    const now = this.world.nowMs;
    this.unknownTableUntilMs = now + this.world.rng.int(100, 1_000);
    this.refusingUntilMs = this.unknownTableUntilMs + this.world.rng.int(500, 3_000);
  }

  get isShuttingDown(): boolean {
    return this.world.nowMs < this.refusingUntilMs;
  }

  private check(table: IngestTable): void {
    const now = this.world.nowMs;
    if (now < this.unknownTableUntilMs) {
      this.world.count('clickhouse.unknown_table');
      throw new Error(`Code: 60. DB::Exception: Table access.${table} doesn't exist. (UNKNOWN_TABLE)`);
    }
    if (now < this.refusingUntilMs) throw new Error('connect ECONNREFUSED 127.0.0.1:8123');
  }

  private rowsOf(table: IngestTable, partition: number): PartitionRows {
    const key = `${table}:${partition}`;
    let rows = this.partitions.get(key);
    if (rows === undefined) this.partitions.set(key, (rows = { max: -1, rows: [] }));
    return rows;
  }

  insert(table: IngestTable, rows: readonly StoredRow[]): void {
    this.check(table);
    if (this.world.fault('insertFails')) throw new Error('read ECONNRESET');
    let stored = rows.length;
    const partial = rows.length > 1 && this.world.fault('insertPartial');
    if (partial) stored = this.world.rng.int(1, rows.length - 1);
    let ids = this.ids.get(table);
    if (ids === undefined) this.ids.set(table, (ids = new Map()));
    let keys = this.keys.get(table);
    if (keys === undefined) this.keys.set(table, (keys = new Map()));
    let perAdmission = this.rowsPerAdmission.get(table);
    if (perAdmission === undefined) this.rowsPerAdmission.set(table, (perAdmission = new Map()));
    for (const row of rows.slice(0, stored)) {
      const p = this.rowsOf(table, row.partition);
      p.rows.push(row);
      if (row.offset > p.max) p.max = row.offset;
      const copies = (ids.get(row.eventId) ?? 0) + 1;
      ids.set(row.eventId, copies);
      if (copies === 2) this.secondRows.push({ table, of: 'event', id: row.eventId });
      keys.set(row.key, (keys.get(row.key) ?? 0) + 1);
      const n = (perAdmission.get(row.admissionId) ?? 0) + 1;
      perAdmission.set(row.admissionId, n);
      if (n === 2) this.secondRows.push({ table, of: 'admission', id: row.admissionId });
    }
    if (partial) throw new Error('socket hang up');
  }

  rowsOfEvent(table: IngestTable, eventId: string): number {
    return this.ids.get(table)?.get(eventId) ?? 0;
  }

  watermark(table: IngestTable, partition: number): { watermark: bigint; rows: number } {
    this.check(table);
    const p = this.rowsOf(table, partition);
    return { watermark: BigInt(p.max), rows: p.rows.length };
  }

  recentKeys(table: IngestTable, partition: number, afterOffset: bigint): { key: string; timestampMs: number }[] {
    this.check(table);
    // Rows of a partition are stored in offset order (the ingest inserts in offset order), so the ones above
    // `afterOffset` are a tail: walk back to it rather than scanning the whole partition.
    const rows = this.rowsOf(table, partition).rows;
    const after = Number(afterOffset);
    let from = rows.length;
    while (from > 0 && rows[from - 1]!.offset > after) from--;
    const tail = rows.slice(from).sort((a, b) => a.offset - b.offset);
    return tail.map((r) => ({ key: r.key, timestampMs: r.timestampMs }));
  }

  existingKeys(table: IngestTable, candidates: readonly string[]): Set<string> {
    this.check(table);
    const keys = this.keys.get(table) ?? new Map<string, number>();
    return new Set(candidates.filter((key) => keys.has(key)));
  }
}
