-- Minute rollups for analysts, maintained by materialized views at insert time. SummingMergeTree merges rows with the
-- same key in the background, so always read them with sum(...) GROUP BY: a key may still have several rows.
-- A row inserted twice into a base table would be counted twice here, which is why the sink never inserts one twice.

CREATE TABLE IF NOT EXISTS {db}.usage_minutely
(
    minute DateTime('UTC'),
    account_id String,
    user_id String,
    model String,
    endpoint String,
    requests UInt64,
    succeeded UInt64,
    failed UInt64,
    cancelled UInt64,
    charged_credits Int64,
    gpu_seconds Decimal64(6),
    duration_ms Int64
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (minute, account_id, user_id, model, endpoint);

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
    gpu_seconds,
    duration_ms
FROM {db}.request_usage;

CREATE TABLE IF NOT EXISTS {db}.decisions_minutely
(
    minute DateTime('UTC'),
    model String,
    plan String,
    priority String,
    decision String,
    reason String,
    decisions UInt64,
    estimated_credits Int64,
    allowance_credits Int64,
    held_credits Int64
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (minute, model, plan, priority, decision, reason);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.decisions_minutely_mv TO {db}.decisions_minutely AS
SELECT
    toStartOfMinute(time) AS minute,
    model,
    plan,
    priority,
    decision,
    reason,
    toUInt64(1) AS decisions,
    estimated_credits,
    allowance_credits,
    held_credits
FROM {db}.admission_decisions;
