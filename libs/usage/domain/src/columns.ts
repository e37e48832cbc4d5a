/**
 * The rows usage-ingest stores, one interface per table. Column names are the snake_case forms of the event fields
 * (CONTRACTS.md), plus `event_id`, the split event time and where the row came from in Kafka. Also the helpers every
 * table's mapping shares.
 */
import type { AnyAccessEvent, Dimensions, Meters } from '@access/contracts';
import { dateTimeOfMs, splitIsoTime } from './time';

export const INGEST_TABLES = ['admission_decisions', 'request_usage', 'ledger_entries'] as const;
export type IngestTable = (typeof INGEST_TABLES)[number];

/** Where a row came from: usage-ingest resumes from the highest stored offset of each (topic, partition). */
export interface KafkaOrigin {
  topic: string;
  partition: number;
  /** Kafka offsets are 64-bit; kept as the decimal string kafkajs gives. */
  offset: string;
  /** The message's timestamp (producer CreateTime), epoch milliseconds. */
  timestampMs: number;
}


export interface OriginColumns {
  event_id: string;
  /** The CloudEvents `source`: with `event_id`, what identifies an event (ids from other producers may collide). */
  event_source: string;
  kafka_topic: string;
  kafka_partition: number;
  kafka_offset: string;
  kafka_timestamp_ms: number;
  ingested_at: string;
}

export interface DecisionRow extends OriginColumns {
  time: string;
  time_ms: number;
  admission_id: string;
  request_id: string;
  account_id: string;
  user_id: string;
  model: string;
  endpoint: string;
  priority: string;
  plan: string;
  decision: string;
  reason: string;
  decided_by: string;
  estimated_credits: number;
  held_credits: number;
  allowance_credits: number;
  funded_by: string;
  funded_by_windows: string[];
  reservation_expires_at: string | null;
  retry_after_ms: number | null;
  available_credits: number | null;
  load_multiplier: number;
  reputation_factor: number;
  price_book_version: string;
  limit_names: string[];
  limit_values: number[];
  limit_remaining: number[];
  limit_reset_ms: number[];
  estimate_meter_names: string[];
  estimate_meter_values: number[];
  estimate_dimension_names: string[];
  estimate_dimension_values: string[];
  decision_latency_us: number;
}

export interface UsageRow extends OriginColumns {
  time: string;
  time_ms: number;
  started_at: string;
  started_at_ms: number;
  admission_id: string;
  request_id: string;
  account_id: string;
  user_id: string;
  model: string;
  endpoint: string;
  status: string;
  meter_names: string[];
  meter_values: number[];
  dimension_names: string[];
  dimension_values: string[];
  /** Decimal64(6) in ClickHouse: rounded to the microsecond here so that sums are exact. */
  gpu_seconds: number;
  duration_ms: number;
  /**
   * What the ledger charged: the request's cost by the price book less `allowance_credits` (see `withAllowance`).
   */
  charged_credits: number;
  /** What the included allowance covered: the allowance part of the request's decision, at most its cost. */
  allowance_credits: number;
  /** Empty when the price book priced the request; otherwise why charged_credits is 0. */
  pricing_error: string;
}

export interface LedgerRow extends OriginColumns {
  time: string;
  time_ms: number;
  account_id: string;
  version: number;
  /** The event name without prefix and version, e.g. `ledger.reservation_settled`. */
  type: string;
  /** The amount the event is about: granted, reserved, actual (settled), released, forfeited or adjusted credits. */
  credits: number;
  /** The event's effect on the balance: Σ balance_delta per account is its balance. */
  balance_delta: number;
  /** The event's effect on held credits: Σ held_delta per account is what is held. */
  held_delta: number;
  grant_id: string;
  admission_id: string;
  request_id: string;
  adjustment_id: string;
  source: string;
  priority: number;
  effective_at: string | null;
  expires_at: string | null;
  held_credits: number;
  actual_credits: number;
  released_credits: number;
  overshoot_credits: number;
  draw_grant_ids: string[];
  draw_credits: number[];
  reason: string;
}

export type IngestRow = DecisionRow | UsageRow | LedgerRow;

/** The price book applied to a completed request; an adapter passes @access/catalog's priceRequest here. */
export type PriceFn = (model: string, meters: Meters, dimensions: Dimensions) => { ok: true; credits: number } | { ok: false; reason: string };

export type MappedRow =
  | { ok: true; table: IngestTable; row: IngestRow; accountId: string; timeMs: number }
  | { ok: false; reason: string };

export interface MapContext {
  price: PriceFn;
  /** The sink's clock, for `ingested_at`. */
  nowMs: number;
}

/** Decimal64(6) holds |x| < 9.2e12; larger GPU-second counts are not a real request. */
export const gpuSecondsMax = 9_000_000_000_000;

export function origin(event: AnyAccessEvent, from: KafkaOrigin, nowMs: number): OriginColumns {
  return {
    event_id: event.id,
    event_source: event.source,
    kafka_topic: from.topic,
    kafka_partition: from.partition,
    kafka_offset: from.offset,
    kafka_timestamp_ms: from.timestampMs,
    ingested_at: dateTimeOfMs(nowMs),
  };
}


export function fail(reason: string): MappedRow {
  return { ok: false, reason };
}


export function nullableTime(iso: string | null): { ok: true; value: string | null } | { ok: false; reason: string } {
  if (iso === null) return { ok: true, value: null };
  const split = splitIsoTime(iso);
  return split.ok ? { ok: true, value: split.value.seconds } : split;
}

