import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS, SOURCES, makeEvent, newEventId } from '@access/contracts';
import { Clickhouse, identifier, migrateClickhouse } from '@access/platform-clickhouse';
import { requireStack, testName } from '@access/testing';
import { ClickhouseUsageStore, loadPriceBook, priceFnOf } from '@access/usage-adapters';
import { INGEST_TABLES, mapEvent, type IngestTable } from '@access/usage-domain';
import { generateMix } from './events';
import { migrationsDir, repoRoot } from './harness';

/** The ```sql blocks of docs/analytics.md, with the heading above each. */
function documentedQueries(): { title: string; sql: string }[] {
  const text = readFileSync(join(repoRoot, 'docs', 'analytics.md'), 'utf8');
  const queries: { title: string; sql: string }[] = [];
  let title = '';
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith('#')) title = line.replace(/^#+\s*/, '');
    if (line.trim() === '```sql') {
      const body: string[] = [];
      while (lines[++i]?.trim() !== '```') body.push(lines[i]!);
      queries.push({ title, sql: body.join('\n') });
    }
  }
  return queries;
}

const queries = documentedQueries();

describe('docs/analytics.md', () => {
  let ch: Clickhouse;
  let analyst: Clickhouse;
  const database = testName('analytics');

  beforeAll(async () => {
    const { clickhouseUrl } = await requireStack(['clickhouse']);
    await migrateClickhouse({ url: clickhouseUrl, database, dir: migrationsDir });
    ch = new Clickhouse({ url: clickhouseUrl, database });
    analyst = new Clickhouse({ url: clickhouseUrl, database: 'access', username: 'analyst', password: 'analyst' });
    await migrateClickhouse({ url: clickhouseUrl, database: 'access', dir: migrationsDir }); // idempotent, as infra:up

    // Seed: an ordinary mix, plus one user who is rejected over and over (an abuse candidate).
    const now = Date.now();
    const mix = generateMix({ events: 6_000, duplicateRatio: 0, poisonRatio: 0, seed: 7, accounts: 40, startMs: now - 30 * 60_000 });
    const abuse = Array.from({ length: 40 }, (_, i) => {
      const at = new Date(now - 60_000 + i * 100).toISOString();
      return makeEvent(EVENTS.admissionDecided, {
        id: newEventId(), source: SOURCES.admission, time: at,
        data: {
          admissionId: newEventId(), requestId: `abuse-${i}`, accountId: 'acct-abuse', userId: 'u-bad', model: 'sora-2', endpoint: 'video.generate',
          priority: 'standard', plan: 'free', decision: 'rejected', reason: 'rate_limited', decidedBy: 'protective_limits', estimatedCredits: 20,
          fundedBy: [], heldCredits: 0, reservationExpiresAt: null, limits: [], multipliers: { load: 1, reputation: 1 }, priceBookVersion: '2026-11-01',
          estimate: { meters: { video_seconds: 1 }, dimensions: { resolution: '720p' } }, retryAfterMs: 500, availableCredits: null, decisionLatencyUs: 3, decidedAt: at,
        },
      });
    });
    const price = priceFnOf(loadPriceBook(join(repoRoot, 'config')));
    const lines = new Map<IngestTable, string[]>(INGEST_TABLES.map((t) => [t, []]));
    [...mix.unique, ...abuse].forEach((event, offset) => {
      const mapped = mapEvent(event, { topic: 'seed', partition: 0, offset: String(offset), timestampMs: now - 1_000 }, { price, nowMs: now });
      if (!mapped.ok) throw new Error(mapped.reason);
      lines.get(mapped.table)!.push(JSON.stringify(mapped.row));
    });
    const store = new ClickhouseUsageStore(ch);
    for (const [table, rows] of lines) await store.insertLines(table, rows, testName('seed'));
  });
  afterAll(async () => {
    await ch?.command(`DROP DATABASE IF EXISTS ${identifier(database)}`);
    await ch?.close();
    await analyst?.close();
  });

  it('documents at least eight queries', () => {
    expect(queries.length).toBeGreaterThanOrEqual(8);
  });

  it.each(queries.map((q) => [q.title, q.sql]))('%s: answers from seeded data', async (_title, sql) => {
    const rows = await ch.query<Record<string, unknown>>(sql);
    expect(rows.length).toBeGreaterThan(0);
  });

  it.each(queries.map((q) => [q.title, q.sql]))('%s: runs as the analyst user on access', async (_title, sql) => {
    await expect(analyst.query(sql)).resolves.toBeInstanceOf(Array);
  });

  it('finds the seeded abuser among the abuse candidates', async () => {
    const abuse = queries.find((q) => q.title.includes('Abuse candidates'))!;
    const rows = await ch.query<{ account_id: string; user_id: string; rejection_ratio: number }>(abuse.sql);
    expect(rows).toContainEqual(expect.objectContaining({ account_id: 'acct-abuse', user_id: 'u-bad', rejection_ratio: 1 }));
  });

  it('reports the top spender with the credits charged to it', async () => {
    const top = queries.find((q) => q.title.includes('Top spenders'))!;
    const [first] = await ch.query<{ account_id: string; credits: string }>(top.sql);
    const [expected] = await ch.query<{ account_id: string; credits: string }>(
      'SELECT account_id, sum(charged_credits) AS credits FROM request_usage GROUP BY account_id ORDER BY credits DESC LIMIT 1',
    );
    expect(first).toMatchObject({ credits: expected!.credits });
  });
});
