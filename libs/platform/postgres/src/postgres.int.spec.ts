import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MigrationInterface, QueryRunner } from 'typeorm';
import { requireStack, testName } from '@access/testing';
import { createDataSource, dropSchema, ensureDatabase, migratePostgres } from './postgres';

class CreateWidgets1700000000000 implements MigrationInterface {
  name = 'CreateWidgets1700000000000';
  async up(q: QueryRunner) {
    await q.query('CREATE TABLE widgets (id text PRIMARY KEY, credits bigint NOT NULL)');
  }
  async down(q: QueryRunner) {
    await q.query('DROP TABLE widgets');
  }
}
class AddColour1700000000001 implements MigrationInterface {
  name = 'AddColour1700000000001';
  async up(q: QueryRunner) {
    await q.query(`ALTER TABLE widgets ADD COLUMN colour text NOT NULL DEFAULT 'blue'`);
  }
  async down(q: QueryRunner) {
    await q.query('ALTER TABLE widgets DROP COLUMN colour');
  }
}

describe('Postgres platform against the real server', () => {
  let url: string;
  const schema = testName('schema');

  beforeAll(async () => {
    url = (await requireStack(['postgres'])).databaseUrl;
    await ensureDatabase(url);
  });
  afterAll(async () => dropSchema(url, schema));

  it('applies migrations once each, in the test schema, and records them', async () => {
    const migrations = [CreateWidgets1700000000000, AddColour1700000000001];
    expect(await migratePostgres({ url, schema, migrations })).toBe(2);
    expect(await migratePostgres({ url, schema, migrations })).toBe(0);

    const db = createDataSource({ url, schema });
    await db.initialize();
    try {
      await db.query('INSERT INTO widgets (id, credits) VALUES ($1, $2)', ['w1', '9007199254740993']);
      const rows: { id: string; credits: string; colour: string }[] = await db.query('SELECT id, credits, colour FROM widgets');
      // bigint arrives as a string: credits beyond 2^53 are not silently rounded.
      expect(rows).toEqual([{ id: 'w1', credits: '9007199254740993', colour: 'blue' }]);
      const recorded: { name: string }[] = await db.query('SELECT name FROM migrations ORDER BY id');
      expect(recorded.map((r) => r.name)).toEqual(['CreateWidgets1700000000000', 'AddColour1700000000001']);
      const [where] = await db.query(`SELECT table_schema FROM information_schema.tables WHERE table_name = 'widgets' AND table_schema = $1`, [schema]);
      expect(where.table_schema).toBe(schema);
    } finally {
      await db.destroy();
    }
  });

  it('ensureDatabase creates a missing database once', async () => {
    const name = testName('db');
    const target = new URL(url);
    target.pathname = `/${name}`;
    expect(await ensureDatabase(target.toString())).toBe(true);
    expect(await ensureDatabase(target.toString())).toBe(false);
    const admin = new URL(url);
    admin.pathname = '/postgres';
    const db = createDataSource({ url: admin.toString() });
    await db.initialize();
    await db.query(`DROP DATABASE "${name}"`);
    await db.destroy();
  });
});
