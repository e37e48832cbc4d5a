-- One completed request is one row (CONTRACTS.md, Additions 2026-12), and what paid for it is split in two:
-- `charged_credits` is what the ledger charged (the request's cost less what its decision's allowance covered) and
-- `allowance_credits` what the allowance covered. The sink deduplicates completions by admission_id, and every other
-- event by (event_source, event_id): ids from other producers need not be UUIDs, and two producers may pick the same.
-- Rows written before this migration were all made by this system: their source is the default of their table.
-- ClickHouse 18.16 has no ADD COLUMN IF NOT EXISTS; the migration runner skips an ADD COLUMN whose column exists, so
-- a half-applied migration can be re-run.

ALTER TABLE {db}.request_usage ADD COLUMN allowance_credits Int64 DEFAULT 0 AFTER charged_credits;
ALTER TABLE {db}.request_usage ADD COLUMN event_source String DEFAULT '' AFTER event_id;
ALTER TABLE {db}.admission_decisions ADD COLUMN event_source String DEFAULT '/access/admission' AFTER event_id;
ALTER TABLE {db}.ledger_entries ADD COLUMN event_source String DEFAULT '/access/credit-ledger' AFTER event_id;
ALTER TABLE {db}.usage_minutely ADD COLUMN allowance_credits Int64 DEFAULT 0 AFTER charged_credits;

-- The rollup's view gains the allowance part. A view cannot be altered: it is replaced (inserts in between are not
-- rolled up, so run migrations before usage-ingest starts, as `npm run infra:up` does).
DROP TABLE IF EXISTS {db}.usage_minutely_mv;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.usage_minutely_mv TO {db}.usage_minutely AS
SELECT
    toStartOfMinute(time) AS minute,
    account_id,
    user_id,
    model,
    endpoint,
    toUInt64(1) AS requests,
    toUInt64(status = 'succeeded') AS succeeded,
    toUInt64(status = 'failed') AS failed,
    toUInt64(status = 'cancelled') AS cancelled,
    charged_credits,
    allowance_credits,
    gpu_seconds,
    duration_ms
FROM {db}.request_usage;

-- Overshoot is the request's whole cost (charged plus allowance) beyond its estimate, as before the split.
DROP TABLE IF EXISTS {db}.abuse_signals;

CREATE VIEW IF NOT EXISTS {db}.abuse_signals AS
SELECT
    account_id,
    user_id,
    requests,
    rejections,
    completions,
    succeeded,
    failed,
    if(requests = 0, 0, rejections / requests) AS rejection_ratio,
    if(completions = 0, 0, succeeded / completions) AS success_ratio,
    if(completions = 0, 0, failed / completions) AS failure_ratio,
    burstiness,
    active_days,
    overshoot_credits
FROM
(
    SELECT
        account_id,
        user_id,
        sum(m_decisions) AS requests,
        sum(m_rejections) AS rejections,
        sum(m_completions) AS completions,
        sum(m_succeeded) AS succeeded,
        sum(m_failed) AS failed,
        if(countIf(m_decisions > 0) = 0, 1, max(m_decisions) / (sum(m_decisions) / countIf(m_decisions > 0))) AS burstiness,
        uniqExactIf(toDate(minute), m_decisions > 0) AS active_days
    FROM
    (
        SELECT
            account_id,
            user_id,
            minute,
            sum(decisions) AS m_decisions,
            sum(rejections) AS m_rejections,
            sum(completions) AS m_completions,
            sum(succeeded) AS m_succeeded,
            sum(failed) AS m_failed
        FROM {db}.user_activity_minutely
        WHERE minute >= now() - INTERVAL 7 DAY
        GROUP BY account_id, user_id, minute
    )
    GROUP BY account_id, user_id
)
ANY LEFT JOIN
(
    SELECT
        account_id,
        user_id,
        sum(greatest(cost_credits - estimated_credits, 0)) AS overshoot_credits
    FROM
    (
        SELECT admission_id, account_id, user_id, charged_credits + allowance_credits AS cost_credits
        FROM {db}.request_usage
        WHERE time >= now() - INTERVAL 7 DAY
    )
    ANY INNER JOIN
    (
        SELECT admission_id, estimated_credits
        FROM {db}.admission_decisions
        WHERE time >= now() - INTERVAL 8 DAY AND decision = 'admitted'
    ) USING (admission_id)
    GROUP BY account_id, user_id
) USING (account_id, user_id);
