import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Clickhouse, clickhouseErrorCode } from './client';
import { identifier, quote } from './quote';

export interface ClickhouseMigration {
  version: number;
  name: string;
  statements: string[];
}

const fileName = /^(\d{4})_([a-z0-9_]+)\.sql$/;

/**
 * Reads `NNNN_name.sql` files. Statements end with `;` at the end of a line; `{db}` stands for the target
 * database (so each integration test can migrate its own database), substituted as a validated identifier.
 */
export function loadClickhouseMigrations(dir: string, database: string): ClickhouseMigration[] {
  const db = identifier(database);
  return readdirSync(dir)
    .filter((f) => fileName.test(f))
    .sort()
    .map((file) => {
      const [, version, name] = fileName.exec(file)!;
      const text = readFileSync(join(dir, file), 'utf8')
        .split('\n')
        .filter((line) => !line.trimStart().startsWith('--'))
        .join('\n');
      const statements = text
        .split(/;\s*$/m)
        .map((s) => s.trim())
        .filter((s) => s.length > 0)
        .map((s) => s.replaceAll('{db}', db));
      return { version: Number(version), name: name!, statements };
    });
}

/**
 * The column an ADD COLUMN adds is there already: ILLEGAL_COLUMN (44) on ClickHouse 18.16, DUPLICATE_COLUMN (15) on
 * current servers.
 */
const columnExistsCodes: ReadonlySet<number> = new Set([15, 44]);

/**
 * Runs one statement. ClickHouse 18.16 has no `ADD COLUMN IF NOT EXISTS`, so an ADD COLUMN that finds its column
 * (a half-applied migration run again) counts as done, like the IF NOT EXISTS of the other statements.
 */
async function applyStatement(server: Clickhouse, statement: string): Promise<void> {
  try {
    await server.command(statement);
  } catch (error) {
    const code = clickhouseErrorCode(error);
    if (code !== undefined && columnExistsCodes.has(code) && /already exists/i.test(String(error)) && /^ALTER\s+TABLE\s+\S+\s+ADD\s+COLUMN\s/i.test(statement)) return;
    throw error;
  }
}

/**
 * Applies every migration not yet recorded in `<db>.schema_migrations`, in version order, each once.
 * ClickHouse DDL is not transactional: a migration is recorded after its last statement succeeds, and its
 * statements use IF NOT EXISTS so that a half-applied one can be re-run.
 */
export async function migrateClickhouse(options: { url: string; database: string; dir: string }): Promise<number> {
  const db = identifier(options.database);
  const server = new Clickhouse({ url: options.url, database: 'default' });
  try {
    await server.command(`CREATE DATABASE IF NOT EXISTS ${db}`);
    await server.command(
      `CREATE TABLE IF NOT EXISTS ${db}.schema_migrations (version UInt32, name String, applied_at DateTime) ENGINE = TinyLog`,
    );
    const applied = new Set(
      (await server.query<{ version: number }>(`SELECT version FROM ${db}.schema_migrations`)).map((r) => Number(r.version)),
    );
    let count = 0;
    for (const migration of loadClickhouseMigrations(options.dir, options.database)) {
      if (applied.has(migration.version)) continue;
      for (const statement of migration.statements) await applyStatement(server, statement);
      await server.command(
        `INSERT INTO ${db}.schema_migrations (version, name, applied_at) VALUES (${quote(migration.version)}, ${quote(migration.name)}, now())`,
      );
      count += 1;
    }
    return count;
  } finally {
    await server.close();
  }
}
