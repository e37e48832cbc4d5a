/**
 * Group commit for one table: the batches of several partitions, handled concurrently, are written by one INSERT.
 * ClickHouse pays per INSERT (a new part per month touched, in the table and in every materialized view), so a few
 * large INSERTs are far cheaper than one per partition batch.
 *
 * An INSERT is sent when the buffered rows reach `rowsMax` or `bytesMax`, or `waitMsMax` after the first of them
 * arrived. Each caller's promise settles when the INSERT holding its rows does. An INSERT is one block, so it is
 * stored whole or not at all, and each partition's rows stay in offset order (a partition has at most one batch in
 * flight), which keeps the offset watermark true.
 *
 * Failures: a retriable one (server down, timeout) fails every caller, after waiting until the INSERT is no longer
 * running on the server, so that the callers' recovery reads a watermark that will not change under them. A
 * non-retriable one (the server refused the data) is retried per caller, so that one partition's bad row is blamed
 * on that partition only.
 */
import { randomUUID } from 'node:crypto';
import type { IngestTable } from '@access/usage-domain';
import { isRetriableStoreError, type ClickhouseUsageStore } from './clickhouse-usage-store';

interface Pending {
  lines: readonly string[];
  bytes: number;
  resolve: () => void;
  reject: (error: unknown) => void;
}

export interface CoalescerLimits {
  rowsMax: number;
  bytesMax: number;
  waitMsMax: number;
  /** How long to wait for a failed INSERT to stop running on the server before reporting the failure. */
  settleMsMax: number;
}

export class InsertCoalescer {
  private pending: Pending[] = [];
  private rows = 0;
  private bytes = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: ClickhouseUsageStore,
    private readonly table: IngestTable,
    private readonly limits: CoalescerLimits,
    private readonly observe: (rows: number, seconds: number) => void = () => undefined,
  ) {}

  /** Resolves once `lines` are stored (with whatever else shared their INSERT). */
  write(lines: readonly string[]): Promise<void> {
    if (lines.length === 0) return Promise.resolve();
    let size = 0;
    for (const line of lines) size += line.length + 1;
    if (this.pending.length > 0 && (this.rows + lines.length > this.limits.rowsMax || this.bytes + size > this.limits.bytesMax)) this.flush();
    const done = new Promise<void>((resolve, reject) => this.pending.push({ lines, bytes: size, resolve, reject }));
    this.rows += lines.length;
    this.bytes += size;
    if (this.rows >= this.limits.rowsMax || this.bytes >= this.limits.bytesMax) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.limits.waitMsMax);
    return done;
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const group = this.pending;
    this.pending = [];
    this.rows = 0;
    this.bytes = 0;
    if (group.length > 0) void this.insert(group);
  }

  private async insert(group: Pending[]): Promise<void> {
    const lines = group.length === 1 ? group[0]!.lines : group.flatMap((p) => p.lines);
    try {
      await this.send(lines);
      for (const p of group) p.resolve();
    } catch (error) {
      if (isRetriableStoreError(error) || group.length === 1) {
        for (const p of group) p.reject(error);
        return;
      }
      // The server refused the data: find whose. Each caller's rows alone, one INSERT each.
      for (const p of group) {
        try {
          await this.send(p.lines);
          p.resolve();
        } catch (single) {
          p.reject(single);
        }
      }
    }
  }

  private async send(lines: readonly string[]): Promise<void> {
    const queryId = `usage-ingest:${this.table}:${randomUUID()}`;
    const started = performance.now();
    try {
      await this.store.insertLines(this.table, lines, queryId);
      this.observe(lines.length, (performance.now() - started) / 1000);
    } catch (error) {
      if (isRetriableStoreError(error)) await this.store.waitUntilFinished(queryId, this.limits.settleMsMax).catch(() => undefined);
      throw error;
    }
  }
}
