import { describe, expect, it } from 'vitest';
import { ConfigError, commonEnvSchema, parseEnv } from './env';

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
    });
  });

  it.each([
    ['ADMISSION_PORT', 'abc'],
    ['LEDGER_PORT', '70000'],
    ['KAFKA_BROKERS', 'no-port'],
    ['DATABASE_URL', 'mysql://x'],
    ['CLICKHOUSE_URL', 'not a url'],
    ['LOG_LEVEL', 'loud'],
  ])('names the bad variable %s', (name, value) => {
    expect(() => parseEnv(commonEnvSchema, { [name]: value })).toThrow(ConfigError);
    expect(() => parseEnv(commonEnvSchema, { [name]: value })).toThrow(new RegExp(`${name}: .*got "${value}"`));
  });
});
