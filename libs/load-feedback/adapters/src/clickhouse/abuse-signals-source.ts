import { z } from 'zod';
import { idSchema } from '@access/contracts';
import { sql, type Clickhouse } from '@access/platform-clickhouse';
import type { SignalsSource, UserSignals } from '@access/load-feedback-application';

/** ClickHouse prints 64-bit integers as JSON strings; every number is coerced at this edge. */
const count = z.coerce.number().finite().min(0);
const rowSchema = z.object({
  // Only ids the contract accepts: a reputation.changed for anything else could not be published.
  account_id: idSchema,
  user_id: idSchema,
  requests: count,
  rejection_ratio: z.coerce.number().finite(),
  success_ratio: z.coerce.number().finite(),
  failure_ratio: z.coerce.number().finite(),
  burstiness: z.coerce.number().finite(),
  active_days: count,
  overshoot_credits: z.coerce.number().finite(),
});

/**
 * Reads `abuse_signals` (infra/clickhouse/migrations/0003_abuse_signals.sql, docs/analytics.md): one
 * row per user active in the last 7 days. Most active first, so that when the row limit cuts a run
 * short, the users with the most evidence are the ones scored. A row that does not parse (a schema
 * drift) is skipped and counted, never allowed to stop the other users' scoring.
 */
export class AbuseSignalsSource implements SignalsSource {
  skippedRows = 0;

  constructor(private readonly clickhouse: Clickhouse) {}

  async fetch(limit: number): Promise<UserSignals[]> {
    const rows = await this.clickhouse.query<unknown>(sql`
      SELECT account_id, user_id, requests, rejection_ratio, success_ratio, failure_ratio, burstiness,
             active_days, overshoot_credits
      FROM abuse_signals
      ORDER BY requests DESC, account_id, user_id
      LIMIT ${limit}`);
    const out: UserSignals[] = [];
    for (const raw of rows) {
      const parsed = rowSchema.safeParse(raw);
      if (!parsed.success) {
        this.skippedRows++;
        continue;
      }
      const r = parsed.data;
      out.push({
        accountId: r.account_id,
        userId: r.user_id,
        signals: {
          requests: r.requests,
          successRatio: r.success_ratio,
          rejectionRatio: r.rejection_ratio,
          failureRatio: r.failure_ratio,
          burstiness: Math.max(1, r.burstiness),
          overshootCredits: Math.max(0, r.overshoot_credits),
          activeDays: r.active_days,
        },
      });
    }
    return out;
  }
}
