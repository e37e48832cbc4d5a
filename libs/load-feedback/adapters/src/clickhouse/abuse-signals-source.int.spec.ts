/**
 * The reputation job's read of ClickHouse: a database of its own, migrated with the project's
 * migrations, decisions and completions inserted as usage-ingest writes them, and the abuse-signals
 * view read back as signals the domain scores.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultFeedbackConfig } from '@access/load-feedback-domain';
import { Clickhouse, identifier, migrateClickhouse } from '@access/platform-clickhouse';
import { requireStack, testName } from '@access/testing';
import { ReputationJob, type ReputationUpdate } from '@access/load-feedback-application';
import { AbuseSignalsSource } from './abuse-signals-source';

const migrationsDir = join(__dirname, '..', '..', '..', '..', '..', 'infra', 'clickhouse', 'migrations');

describe('AbuseSignalsSource', () => {
  let ch: Clickhouse;
  const database = testName('lf');

  beforeAll(async () => {
    const stack = await requireStack(['clickhouse']);
    await migrateClickhouse({ url: stack.clickhouseUrl, database, dir: migrationsDir });
    ch = new Clickhouse({ url: stack.clickhouseUrl, database });
  });

  afterAll(async () => {
    await ch?.command(`DROP DATABASE IF EXISTS ${identifier(database)}`).catch(() => undefined);
    await ch?.close();
  });

  const now = Math.floor(Date.now() / 1000) * 1000;
  const time = (ms: number) => new Date(ms).toISOString().slice(0, 19).replace('T', ' ');

  function decisionRow(i: number, userId: string, decision: 'admitted' | 'rejected', atMs: number) {
    return {
      time: time(atMs), time_ms: 0, event_id: `ev-${userId}-${i}`, admission_id: `adm-${userId}-${i}`, request_id: `req-${userId}-${i}`,
      account_id: 'acct-1', user_id: userId, model: 'codex-1', endpoint: 'code.generate', priority: 'standard', plan: 'pro',
      decision, reason: decision === 'admitted' ? '' : 'rate_limited', decided_by: decision === 'admitted' ? 'credits' : 'protective_limits',
      estimated_credits: 10, held_credits: 10, allowance_credits: 0, funded_by: 'credits', funded_by_windows: [],
      reservation_expires_at: null, retry_after_ms: null, available_credits: null, load_multiplier: 1, reputation_factor: 1,
      price_book_version: 'v', limit_names: [], limit_values: [], limit_remaining: [], limit_reset_ms: [],
      estimate_meter_names: [], estimate_meter_values: [], estimate_dimension_names: [], estimate_dimension_values: [],
      decision_latency_us: 10, kafka_topic: 't', kafka_partition: 0, kafka_offset: i, kafka_timestamp_ms: atMs, ingested_at: time(atMs),
    };
  }

  function usageRow(i: number, userId: string, status: 'succeeded' | 'failed', charged: number, atMs: number) {
    return {
      time: time(atMs), time_ms: 0, started_at: time(atMs), started_at_ms: 0, event_id: `us-${userId}-${i}`, admission_id: `adm-${userId}-${i}`,
      request_id: `req-${userId}-${i}`, account_id: 'acct-1', user_id: userId, model: 'codex-1', endpoint: 'code.generate', status,
      meter_names: [], meter_values: [], dimension_names: [], dimension_values: [], gpu_seconds: 1, duration_ms: 1000, charged_credits: charged,
      pricing_error: '', kafka_topic: 't', kafka_partition: 0, kafka_offset: i, kafka_timestamp_ms: atMs, ingested_at: time(atMs),
    };
  }

  it('reads each user\'s signals, and the job publishes a factor below 1 for the abusive one only', async () => {
    const decisions = [];
    const usage = [];
    // u-good: 100 admitted over 100 minutes, every one succeeding at its estimate.
    for (let i = 0; i < 100; i++) {
      decisions.push(decisionRow(i, 'u-good', 'admitted', now - (i + 1) * 60_000));
      usage.push(usageRow(i, 'u-good', 'succeeded', 10, now - (i + 1) * 60_000));
    }
    // u-bad: 100 decisions in one minute, 80 rejected; the admitted ones fail and overshoot.
    for (let i = 0; i < 100; i++) {
      const admitted = i < 20;
      decisions.push(decisionRow(i, 'u-bad', admitted ? 'admitted' : 'rejected', now - 30_000));
      if (admitted) usage.push(usageRow(i, 'u-bad', 'failed', 1_000, now - 30_000));
    }
    await ch.insert('admission_decisions', decisions);
    await ch.insert('request_usage', usage);

    const source = new AbuseSignalsSource(ch);
    const rows = await source.fetch(1_000);
    const byUser = Object.fromEntries(rows.map((r) => [r.userId, r.signals]));
    expect(source.skippedRows).toBe(0);
    expect(byUser['u-good']).toMatchObject({ requests: 100, rejectionRatio: 0, successRatio: 1, failureRatio: 0, overshootCredits: 0 });
    expect(byUser['u-bad']).toMatchObject({ requests: 100, rejectionRatio: 0.8, failureRatio: 1, overshootCredits: 20 * 990 });
    expect(byUser['u-bad']!.burstiness).toBeGreaterThanOrEqual(1);
    expect((await source.fetch(1)).map((r) => r.userId)).toHaveLength(1);

    const published: ReputationUpdate[] = [];
    const job = new ReputationJob({
      config: defaultFeedbackConfig.reputation,
      source,
      intervalMs: 3_600_000,
      restored: new Map(),
      publish: async (updates) => void published.push(...updates),
    });
    await job.run(now);
    expect(published.map((u) => u.userId)).toEqual(['u-bad']);
    expect(published[0]!.factor).toBeLessThan(1);
    expect(published[0]!.signals).toMatchObject({ requests: 100, rejectionRatio: 0.8 });
  });
});
