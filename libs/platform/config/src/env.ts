/**
 * Configuration from the environment, validated at boot: a bad value stops the process with a message naming
 * the variable, before anything connects anywhere. Defaults are the contract's (shared/CONTRACTS.md).
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';

/**
 * The nearest folder at or above `from` that holds a package.json. This file runs from its source (four folders
 * below the root) and bundled into dist/apps/<name>/main.js (three below), in a checkout and in a container image
 * (/app): counting folders would be right for only one of those.
 */
export function findRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) return from;
  }
}

export const repoRoot = findRoot(__dirname);

const port = z.coerce.number().int().min(1).max(65_535);
const urlOf = (protocols: string[]) =>
  z.string().refine((v) => {
    try {
      return protocols.includes(new URL(v).protocol);
    } catch {
      return false;
    }
  }, `expected a ${protocols.join(' or ')} URL`);

const hostOrAddress = z.union([z.ipv4(), z.ipv6(), z.hostname()], { error: 'expected an IP address or a host name' });

export const commonEnvSchema = z.object({
  KAFKA_BROKERS: z
    .string()
    .default('127.0.0.1:9092')
    .refine((v) => v.split(',').every((b) => /^[A-Za-z0-9.-]+:\d{1,5}$/.test(b.trim())), 'expected host:port[,host:port…]'),
  DATABASE_URL: urlOf(['postgres:', 'postgresql:']).default('postgres://postgres@127.0.0.1:5432/access'),
  CLICKHOUSE_URL: urlOf(['http:', 'https:']).default('http://127.0.0.1:8123'),
  CLICKHOUSE_DATABASE: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/).default('access'),
  ACCESS_CONFIG_DIR: z.string().min(1).default(join(repoRoot, 'config')),
  ADMISSION_PORT: port.default(7100),
  LEDGER_PORT: port.default(7200),
  USAGE_INGEST_PORT: port.default(7300),
  LOAD_FEEDBACK_PORT: port.default(7400),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** The address every service's HTTP server binds: loopback unless set (0.0.0.0 in the container images). */
  HTTP_HOST: hostOrAddress.default('127.0.0.1'),
});

export type CommonEnv = z.infer<typeof commonEnvSchema>;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Parses `env` with `schema`; throws a ConfigError whose message names every bad variable. */
export function parseEnv<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => {
    const name = issue.path.join('.');
    const value = env[name];
    return `  ${name}: ${issue.message}${value === undefined ? '' : ` (got ${JSON.stringify(value)})`}`;
  });
  throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
}

/** For main.ts: parse, or print the problem and exit 1. */
export function loadEnvOrExit<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  try {
    return parseEnv(schema, env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}

/** HTTP_HOST, validated like the rest of the environment (for the HTTP shell, which is handed no parsed env). */
export function httpHostFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  return loadEnvOrExit(commonEnvSchema.pick({ HTTP_HOST: true }), env).HTTP_HOST;
}

export function kafkaBrokers(env: CommonEnv): string[] {
  return env.KAFKA_BROKERS.split(',').map((b) => b.trim());
}
