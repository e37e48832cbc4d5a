/**
 * The span of a ClickHouse INSERT, after the database semantic conventions: a CLIENT span `INSERT <table>` with
 * `db.system.name` clickhouse, `db.collection.name`, `db.operation.name` and `db.operation.batch.size` (the rows
 * the caller handed over; a group commit may send them with other callers' rows in one request).
 */
import { ATTR_DB_COLLECTION_NAME, ATTR_DB_OPERATION_BATCH_SIZE, ATTR_DB_OPERATION_NAME, ATTR_DB_SYSTEM_NAME } from '@opentelemetry/semantic-conventions';
import { SpanKind, type SpanOptions } from '@access/platform-observability';

export function clickhouseInsertSpan(table: string, rows: number): SpanOptions {
  return {
    kind: SpanKind.CLIENT,
    attributes: { [ATTR_DB_SYSTEM_NAME]: 'clickhouse', [ATTR_DB_COLLECTION_NAME]: table, [ATTR_DB_OPERATION_NAME]: 'INSERT', [ATTR_DB_OPERATION_BATCH_SIZE]: rows },
  };
}
