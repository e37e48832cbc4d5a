-- The three tables of record, one row per event, written only by usage-ingest (exactly once per event id).
-- Times: DateTime('UTC') (seconds) plus a UInt16 millisecond column, because ClickHouse 18.16 has no DateTime64.
-- Credits are Int64; GPU seconds are Decimal64(6) so that sums are exact whatever the order of addition.
-- Every row records where it came from (kafka_topic/partition/offset/timestamp_ms): usage-ingest reads the highest
-- stored offset per partition after a restart or rebalance so that a batch written before a crash is never written twice.
-- Plain MergeTree, not ReplacingMergeTree: the sink guarantees one row per event, and the rollups (fed by materialized
-- views at insert time) could not be de-duplicated by a later merge anyway.

CREATE TABLE IF NOT EXISTS {db}.admission_decisions
(
    time DateTime('UTC'),
    time_ms UInt16,
    event_id String,
    admission_id String,
    request_id String,
    account_id String,
    user_id String,
    model String,
    endpoint String,
    priority String,
    plan String,
    decision String,
    reason String,
    decided_by String,
    estimated_credits Int64,
    held_credits Int64,
    allowance_credits Int64,
    funded_by String,
    funded_by_windows Array(String),
    reservation_expires_at Nullable(DateTime('UTC')),
    retry_after_ms Nullable(Int64),
    available_credits Nullable(Int64),
    load_multiplier Float64,
    reputation_factor Float64,
    price_book_version String,
    limit_names Array(String),
    limit_values Array(Float64),
    limit_remaining Array(Float64),
    limit_reset_ms Array(Int64),
    estimate_meter_names Array(String),
    estimate_meter_values Array(Float64),
    estimate_dimension_names Array(String),
    estimate_dimension_values Array(String),
    decision_latency_us Float64,
    kafka_topic String,
    kafka_partition UInt16,
    kafka_offset UInt64,
    kafka_timestamp_ms UInt64,
    ingested_at DateTime('UTC')
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(time)
ORDER BY (account_id, user_id, time, event_id);

CREATE TABLE IF NOT EXISTS {db}.request_usage
(
    time DateTime('UTC'),
    time_ms UInt16,
    started_at DateTime('UTC'),
    started_at_ms UInt16,
    event_id String,
    admission_id String,
    request_id String,
    account_id String,
    user_id String,
    model String,
    endpoint String,
    status String,
    meter_names Array(String),
    meter_values Array(Float64),
    dimension_names Array(String),
    dimension_values Array(String),
    gpu_seconds Decimal64(6),
    duration_ms Int64,
    charged_credits Int64,
    pricing_error String,
    kafka_topic String,
    kafka_partition UInt16,
    kafka_offset UInt64,
    kafka_timestamp_ms UInt64,
    ingested_at DateTime('UTC')
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(time)
ORDER BY (account_id, user_id, time, event_id);

CREATE TABLE IF NOT EXISTS {db}.ledger_entries
(
    time DateTime('UTC'),
    time_ms UInt16,
    event_id String,
    account_id String,
    version UInt64,
    type String,
    credits Int64,
    balance_delta Int64,
    held_delta Int64,
    grant_id String,
    admission_id String,
    request_id String,
    adjustment_id String,
    source String,
    priority Int64,
    effective_at Nullable(DateTime('UTC')),
    expires_at Nullable(DateTime('UTC')),
    held_credits Int64,
    actual_credits Int64,
    released_credits Int64,
    overshoot_credits Int64,
    draw_grant_ids Array(String),
    draw_credits Array(Int64),
    reason String,
    kafka_topic String,
    kafka_partition UInt16,
    kafka_offset UInt64,
    kafka_timestamp_ms UInt64,
    ingested_at DateTime('UTC')
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(time)
ORDER BY (account_id, version, event_id);
