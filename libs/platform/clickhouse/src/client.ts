import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import { identifier } from './quote';

export interface ClickhouseOptions {
  /** e.g. http://127.0.0.1:8123 (CLICKHOUSE_URL). */
  url: string;
  database: string;
  username?: string;
  password?: string;
  requestTimeoutMs?: number;
}

/**
 * The project's ClickHouse connection. Every statement is built with `quote`/`identifier`/`sql` from quote.ts:
 * the server (18.16) has no query parameters.
 */
export class Clickhouse {
  readonly client: ClickHouseClient;
  readonly database: string;

  constructor(readonly options: ClickhouseOptions) {
    identifier(options.database); // validates the name before it is ever used in SQL
    this.database = options.database;
    this.client = createClient({
      url: options.url,
      database: options.database,
      username: options.username ?? 'default',
      password: options.password ?? '',
      request_timeout: options.requestTimeoutMs ?? 30_000,
      compression: { request: false, response: false },
      clickhouse_settings: {},
      // The client would print every failed request to stderr as multi-line text, outside the services' JSON
      // logs; a failure is thrown to the caller, which logs it (structured) or retries it.
      log: { level: ClickHouseLogLevel.OFF },
    });
  }

  async ping(): Promise<boolean> {
    const result = await this.client.ping();
    return result.success;
  }

  async query<Row>(query: string): Promise<Row[]> {
    const result = await this.client.query({ query, format: 'JSONEachRow' });
    return (await result.json()) as Row[];
  }

  async command(query: string): Promise<void> {
    await this.client.command({ query });
  }

  async insert<Row extends Record<string, unknown>>(table: string, rows: readonly Row[]): Promise<void> {
    if (rows.length === 0) return;
    await this.client.insert({ table: identifier(table), values: rows as Row[], format: 'JSONEachRow' });
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}

/** ClickHouse 18.16 errors carry no `code` property: the code is in the message as `Code: N`. */
export function clickhouseErrorCode(error: unknown): number | undefined {
  const message = error instanceof Error ? error.message : String(error);
  const match = /Code: (\d+)/.exec(message);
  return match ? Number(match[1]) : undefined;
}

/** Connection refused, timeouts and server overload are worth retrying; syntax and type errors are not. */
export function isRetriableClickhouseError(error: unknown): boolean {
  const code = clickhouseErrorCode(error);
  if (code === undefined) {
    const message = error instanceof Error ? `${error.name} ${error.message}` : String(error);
    return /ECONNREFUSED|ECONNRESET|ETIMEDOUT|socket hang up|Timeout|EPIPE|fetch failed/i.test(message);
  }
  // TOO_MANY_SIMULTANEOUS_QUERIES, TIMEOUT_EXCEEDED, TOO_MANY_PARTS, MEMORY_LIMIT_EXCEEDED, NETWORK_ERROR, SOCKET_TIMEOUT
  return [202, 159, 252, 241, 210, 209].includes(code);
}
