/**
 * The start of every service's main.ts: configuration validated at boot (a bad value exits naming the
 * variable), JSON logs, metrics, traces (when OTEL_EXPORTER_OTLP_ENDPOINT is set), readiness checks, and the
 * Postgres pool that holds the service tokens.
 */
import type { z } from 'zod';
import { TokenStore } from '@access/platform-auth';
import { commonEnvSchema, loadEnvOrExit, type CommonEnv } from '@access/platform-config';
import { createLogger, createMetricsRegistry, redactUrl, startTracingFromEnv, type Logger } from '@access/platform-observability';
import { createDataSource, type DataSource } from '@access/platform-postgres';
import type { Registry } from 'prom-client';
import { Readiness, type ShellOptions } from './shell';

export interface Runtime<E> {
  name: string;
  env: E;
  logger: Logger;
  metrics: Registry;
  readiness: Readiness;
  db: DataSource;
  tokenStore: TokenStore;
  shell(openapi: object): ShellOptions;
  /** Closes what the runtime opened (the Postgres pool; the spans not yet exported are sent first). */
  close(): Promise<void>;
}

export async function createRuntime<S extends z.ZodType<CommonEnv>>(
  name: string,
  schema: S = commonEnvSchema as unknown as S,
  options: { poolSizeMax?: number } = {},
): Promise<Runtime<z.infer<S>>> {
  const env = loadEnvOrExit(schema);
  const logger = createLogger(name, env.LOG_LEVEL);
  const tracing = await startTracingFromEnv(name, logger);
  const metrics = createMetricsRegistry(name);
  const readiness = new Readiness();
  const db = createDataSource({ url: env.DATABASE_URL, poolSizeMax: options.poolSizeMax ?? 5, applicationName: name });
  try {
    await db.initialize();
  } catch (error) {
    logger.fatal({ err: error, databaseUrl: redactUrl(env.DATABASE_URL) }, 'cannot connect to Postgres (DATABASE_URL); is the stack up? npm run infra:up');
    process.exit(1);
  }
  readiness.add({
    name: 'postgres',
    check: async () => {
      await db.query('SELECT 1');
      return true;
    },
  });
  const tokenStore = new TokenStore(db);
  return {
    name,
    env,
    logger,
    metrics,
    readiness,
    db,
    tokenStore,
    shell: (openapi) => ({ logger, metrics, readiness, tokenStore, openapi }),
    close: async () => {
      await tracing.shutdown().catch(() => undefined);
      if (db.isInitialized) await db.destroy();
    },
  };
}
