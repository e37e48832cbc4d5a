import { randomUUID } from 'node:crypto';

/** A name unique to one test, valid as a Kafka topic, a consumer group, a Postgres schema and a ClickHouse database. */
export function testName(prefix = 'test'): string {
  return `${prefix}_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
}
