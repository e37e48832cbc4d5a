/**
 * Which ClickHouse failures may dead-letter an event (the rows' own fault) and which are retried (everything else).
 * The messages are ClickHouse 18.16's, as the client reports them.
 */
import { describe, expect, it } from 'vitest';
import { isRetriableStoreError } from './clickhouse-usage-store';

const server = (code: number, text: string) => new Error(`Code: ${code}, e.displayText() = DB::Exception: ${text}, e.what() = DB::Exception`);

describe('isRetriableStoreError', () => {
  it.each<[string, unknown, boolean]>([
    ['connection refused (server down)', new Error('connect ECONNREFUSED 127.0.0.1:8123'), true],
    ['socket hang up (server stopped mid-request)', new Error('socket hang up'), true],
    ['a table unloaded while the server shuts down', server(60, 'Table faults.request_usage doesn\'t exist.'), true],
    ['a database not there (yet)', server(81, 'Database access doesn\'t exist'), true],
    ['a read-only user', server(164, 'Cannot execute query in readonly mode'), true],
    ['too many parts (merges behind)', server(252, 'Too many parts (300). Merges are processing significantly slower than inserts.'), true],
    ['the same INSERT still running', server(216, 'Query with id = x is already running.'), true],
    ['an error without a ClickHouse code', new Error('something unexpected'), true],
    ['text it cannot parse', server(27, 'Cannot parse input: expected , before: x'), false],
    ['a date time it cannot parse', server(41, 'Cannot parse datetime'), false],
    ['a number it cannot parse', server(72, 'Cannot parse number'), false],
    ['a type mismatch', server(53, 'Type mismatch'), false],
    ['malformed JSONEachRow', server(117, 'Unknown field found while parsing JSONEachRow format: x'), false],
  ])('%s → retriable %s', (_name, error, retriable) => {
    expect(isRetriableStoreError(error)).toBe(retriable);
  });
});
