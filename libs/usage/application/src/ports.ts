/** What the use cases read and write through; @access/usage-adapters implements each against ClickHouse and Kafka. */
import type { AnyAccessEvent } from '@access/contracts';
import type { IngestTable } from '@access/usage-domain';

/** One consumed event, parsed at the edge, with where it sits in Kafka. */
export interface IngestEvent {
  event: AnyAccessEvent;
  topic: string;
  partition: number;
  /** Kafka offsets are 64-bit; kept as the decimal string the client gives. */
  offset: string;
  /** The message's timestamp (producer CreateTime), epoch milliseconds. */
  timestampMs: number;
}

export interface PartitionWatermark {
  /** Highest stored offset, or -1n when nothing of this partition is stored. */
  watermark: bigint;
  /** Rows stored for this partition. */
  rows: number;
}

/** The store of record (ClickHouse): the reads that recovery, dedupe, the allowance split and retention need. */
export interface UsageStorePort {
  watermarks(table: IngestTable, topic: string, partitions: readonly number[]): Promise<Map<number, PartitionWatermark>>;
  /** Dedupe keys of the partition's rows after `afterOffset`, with their Kafka timestamps. */
  recentKeys(table: IngestTable, topic: string, partition: number, afterOffset: bigint): Promise<{ key: string; timestampMs: number }[]>;
  /** Which of these dedupe keys are stored. */
  existingKeys(
    table: IngestTable,
    lookup: { keys: readonly string[]; accountIds: readonly string[]; time?: { min: string; max: string } },
    keysPerQueryMax: number,
  ): Promise<Set<string>>;
  /** The allowance part of these admissions' admitted decisions; an admission missing from the map has none stored. */
  decisionAllowances(
    lookup: { accountIds: readonly string[]; admissionIds: readonly string[]; timeMinMs: number; timeMaxMs: number; timeMarginMs: number },
    idsPerQueryMax: number,
  ): Promise<Map<string, number>>;
  /** Drops every month partition wholly older than `retentionDays`; returns what it dropped. */
  dropExpired(nowMs: number, retentionDays: number): Promise<{ table: string; partition: string }[]>;
  /**
   * False only when the store refused the data itself (retrying would fail the same); true when the failed request
   * may still have been applied or may pass later.
   */
  isRetriable(error: unknown): boolean;
}

/** Writes one table's rows (JSON lines), all or nothing, in call order per partition; `sources[i]` is line i's event. */
export interface RowWriter<E extends IngestEvent = IngestEvent> {
  write(lines: readonly string[], sources: readonly E[]): Promise<void>;
}

/** The decisions consumer's progress, for completions that wait for their decision. */
export interface DecisionsProgress {
  /**
   * True while the decisions consumer has not committed, on every partition of the decisions topic, past the
   * decisions published up to `publishedByMs`.
   */
  mayBeBehind(publishedByMs: number): Promise<boolean>;
}

/** What an operator sees: counts by table and reason, and a line per recovered partition. */
export interface IngestObserver {
  skipped(table: IngestTable, reason: string, rows: number): void;
  lookedUp(table: IngestTable, keys: number): void;
  inserted(table: IngestTable, rows: number): void;
  batchDone(table: IngestTable): void;
  recovered(table: IngestTable, detail: { topic: string; partition: number; watermark: string; storedRows: number; windowIds: number }): void;
  retentionDropped(dropped: { table: string; partition: string }): void;
  retentionFailed(error: unknown): void;
}
