import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, commonEnvSchema, findRoot, httpHostFromEnv, parseEnv, repoRoot } from './env';

describe('parseEnv', () => {
  it('applies the contract defaults', () => {
    const env = parseEnv(commonEnvSchema, {});
    expect(env).toMatchObject({
      KAFKA_BROKERS: '127.0.0.1:9092',
      DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/access',
      CLICKHOUSE_URL: 'http://127.0.0.1:8123',
      ADMISSION_PORT: 7100,
      LEDGER_PORT: 7200,
      USAGE_INGEST_PORT: 7300,
      LOAD_FEEDBACK_PORT: 7400,
      HTTP_HOST: '127.0.0.1',
    });
  });

  it.each([
    ['ADMISSION_PORT', 'abc'],
    ['LEDGER_PORT', '70000'],
    ['KAFKA_BROKERS', 'no-port'],
    ['DATABASE_URL', 'mysql://x'],
    ['CLICKHOUSE_URL', 'not a url'],
    ['LOG_LEVEL', 'loud'],
    ['HTTP_HOST', 'not a host'],
    ['HTTP_HOST', 'http://0.0.0.0'],
  ])('names the bad variable %s', (name, value) => {
    expect(() => parseEnv(commonEnvSchema, { [name]: value })).toThrow(ConfigError);
    expect(() => parseEnv(commonEnvSchema, { [name]: value })).toThrow(new RegExp(`${name}: .*got "${value}"`));
  });

  it.each(['0.0.0.0', '127.0.0.1', '::', '::1', 'admission-2', 'localhost'])('accepts HTTP_HOST=%s', (host) => {
    expect(parseEnv(commonEnvSchema, { HTTP_HOST: host }).HTTP_HOST).toBe(host);
    expect(httpHostFromEnv({ HTTP_HOST: host })).toBe(host);
  });
});

describe('findRoot', () => {
  it('finds the repository from the source and from a bundle three folders below it', () => {
    expect(existsSync(join(repoRoot, 'nx.json'))).toBe(true);
    expect(findRoot(join(repoRoot, 'dist', 'apps', 'admission'))).toBe(repoRoot);
  });

  it('stops at the nearest package.json (a container image has its own at /app)', () => {
    const app = mkdtempSync(join(tmpdir(), 'root-'));
    try {
      writeFileSync(join(app, 'package.json'), '{}');
      mkdirSync(join(app, 'dist', 'apps', 'admission'), { recursive: true });
      expect(findRoot(join(app, 'dist', 'apps', 'admission'))).toBe(app);
    } finally {
      rmSync(app, { recursive: true, force: true });
    }
  });
});
