-- Per-user activity by minute (fed from decisions and from completions), and the abuse-signals view that
-- load-feedback reads to derive each user's reputation factor: one row per (account_id, user_id) active in the last
-- 7 days. Columns are documented in docs/analytics.md.

CREATE TABLE IF NOT EXISTS {db}.user_activity_minutely
(
    minute DateTime('UTC'),
    account_id String,
    user_id String,
    decisions UInt64,
    rejections UInt64,
    completions UInt64,
    succeeded UInt64,
    failed UInt64
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (account_id, user_id, minute);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.user_activity_decisions_mv TO {db}.user_activity_minutely AS
SELECT
    toStartOfMinute(time) AS minute,
    account_id,
    user_id,
    toUInt64(1) AS decisions,
    toUInt64(decision = 'rejected') AS rejections,
    toUInt64(0) AS completions,
    toUInt64(0) AS succeeded,
    toUInt64(0) AS failed
FROM {db}.admission_decisions;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.user_activity_usage_mv TO {db}.user_activity_minutely AS
SELECT
    toStartOfMinute(time) AS minute,
    account_id,
    user_id,
    toUInt64(0) AS decisions,
    toUInt64(0) AS rejections,
    toUInt64(1) AS completions,
    toUInt64(status = 'succeeded') AS succeeded,
    toUInt64(status = 'failed') AS failed
FROM {db}.request_usage;

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
        sum(greatest(charged_credits - estimated_credits, 0)) AS overshoot_credits
    FROM
    (
        SELECT admission_id, account_id, user_id, charged_credits
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
