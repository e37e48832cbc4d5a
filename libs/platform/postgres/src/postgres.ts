import 'reflect-metadata';
import { Client } from 'pg';
import { DataSource, type EntitySchema, type MixedList } from 'typeorm';

export interface PostgresOptions {
  /** DATABASE_URL, e.g. postgres://postgres@127.0.0.1:5432/access */
  url: string;
  /** The schema every query runs in (search_path). Integration tests use one schema each. */
  schema?: string;
  // TypeORM's own migration type is a class with up/down; any list of those.
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  migrations?: MixedList<Function>;
  entities?: MixedList<EntitySchema | (new () => unknown)>;
  poolSizeMax?: number;
  applicationName?: string;
  /**
   * Whether TypeORM logs failed queries with their parameters (default true). Off for writers whose expected
   * failures (optimistic-concurrency conflicts) carry whole batches as parameters: they log what matters themselves.
   */
  logFailedQueries?: boolean;
}

const schemaPattern = /^[a-z_][a-z0-9_]{0,62}$/;

export function assertSchemaName(schema: string): string {
  if (!schemaPattern.test(schema)) throw new Error(`invalid Postgres schema name: ${JSON.stringify(schema)}`);
  return schema;
}

/** Creates the database named in the URL when it does not exist (connecting to the `postgres` database). */
export async function ensureDatabase(url: string): Promise<boolean> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.replace(/^\//, '')) || 'postgres';
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(name)) throw new Error(`invalid database name in DATABASE_URL: ${name}`);
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (exists.rowCount) return false;
    await client.query(`CREATE DATABASE "${name}"`);
    return true;
  } finally {
    await client.end();
  }
}

export async function withClient<T>(url: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export async function createSchema(url: string, schema: string): Promise<void> {
  await withClient(url, (c) => c.query(`CREATE SCHEMA IF NOT EXISTS "${assertSchemaName(schema)}"`));
}

export async function dropSchema(url: string, schema: string): Promise<void> {
  await withClient(url, (c) => c.query(`DROP SCHEMA IF EXISTS "${assertSchemaName(schema)}" CASCADE`));
}

/** A TypeORM DataSource whose connections all run in `schema` (search_path), migrations recorded in `migrations`. */
export function createDataSource(options: PostgresOptions): DataSource {
  const schema = assertSchemaName(options.schema ?? 'public');
  return new DataSource({
    type: 'postgres',
    url: options.url,
    schema,
    entities: options.entities ?? [],
    migrations: options.migrations ?? [],
    migrationsTableName: 'migrations',
    migrationsTransactionMode: 'each',
    synchronize: false,
    logging: options.logFailedQueries === false ? false : ['error'],
    applicationName: options.applicationName ?? 'access',
    extra: {
      max: options.poolSizeMax ?? 10,
      options: `-c search_path=${schema}`,
    },
  });
}

/** Applies pending migrations (each once, recorded in the schema's `migrations` table); returns how many ran. */
export async function migratePostgres(options: PostgresOptions): Promise<number> {
  if (options.schema) await createSchema(options.url, options.schema);
  const dataSource = createDataSource({ ...options, poolSizeMax: 2 });
  await dataSource.initialize();
  try {
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    return applied.length;
  } finally {
    await dataSource.destroy();
  }
}
