-- A fixture for migrations.int.spec.ts: two statements, {db} is the target database.
CREATE TABLE IF NOT EXISTS {db}.events (
  event_id String,
  time DateTime,
  time_ms UInt16,
  credits Int64
) ENGINE = MergeTree PARTITION BY toYYYYMM(time) ORDER BY (time, event_id);

CREATE TABLE IF NOT EXISTS {db}.notes (id UInt32, text String) ENGINE = MergeTree ORDER BY id;
