/**
 * From contract events to ClickHouse rows: pure, one function per table. Column names are the snake_case forms of
 * the event fields (CONTRACTS.md), plus `event_id`, the split event time and where the row came from in Kafka.
 */
import { EVENTS, eventIdentity, uuidv7Schema, uuidv7TimeMs, type AccessEvent, type AnyAccessEvent, type Dimensions, type Meters } from '@access/contracts';
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

interface OriginColumns {
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

function origin(event: AnyAccessEvent, from: KafkaOrigin, nowMs: number): OriginColumns {
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

function fail(reason: string): MappedRow {
  return { ok: false, reason };
}

function nullableTime(iso: string | null): { ok: true; value: string | null } | { ok: false; reason: string } {
  if (iso === null) return { ok: true, value: null };
  const split = splitIsoTime(iso);
  return split.ok ? { ok: true, value: split.value.seconds } : split;
}

export function mapEvent(event: AnyAccessEvent, from: KafkaOrigin, context: MapContext): MappedRow {
  switch (event.type) {
    case EVENTS.admissionDecided:
      return decisionRow(event, from, context);
    case EVENTS.usageRequestCompleted:
      return usageRow(event, from, context);
    case EVENTS.creditsGranted:
    case EVENTS.creditsReserved:
    case EVENTS.reservationSettled:
    case EVENTS.reservationVoided:
    case EVENTS.reservationExpired:
    case EVENTS.grantExpired:
    case EVENTS.creditsAdjusted:
      return ledgerRow(event, from, context);
    case EVENTS.balanceChanged:
    case EVENTS.loadSampled:
    case EVENTS.limitsAdjusted:
    case EVENTS.reputationChanged:
    case EVENTS.deadletterRecorded:
      return fail(`usage-ingest does not store ${event.type}`);
    default: {
      const _exhaustive: never = event;
      return _exhaustive;
    }
  }
}

function decisionRow(event: AccessEvent<typeof EVENTS.admissionDecided>, from: KafkaOrigin, context: MapContext): MappedRow {
  const d = event.data;
  const time = splitIsoTime(d.decidedAt);
  if (!time.ok) return fail(`data.decidedAt: ${time.reason}`);
  const expires = nullableTime(d.reservationExpiresAt);
  if (!expires.ok) return fail(`data.reservationExpiresAt: ${expires.reason}`);
  let allowanceCredits = 0;
  let creditsCredits = 0;
  const windows: string[] = [];
  for (const funding of d.fundedBy) {
    if (funding.source === 'allowance') {
      allowanceCredits += funding.credits;
      windows.push(funding.window);
    } else {
      creditsCredits += funding.credits;
    }
  }
  const fundedBy = [allowanceCredits > 0 || windows.length > 0 ? 'allowance' : '', creditsCredits > 0 ? 'credits' : '']
    .filter((s) => s !== '')
    .join('+');
  const meterNames = Object.keys(d.estimate.meters).sort();
  const dimensionNames = Object.keys(d.estimate.dimensions).sort();
  const row: DecisionRow = {
    ...origin(event, from, context.nowMs),
    time: time.value.seconds,
    time_ms: time.value.ms,
    admission_id: d.admissionId,
    request_id: d.requestId,
    account_id: d.accountId,
    user_id: d.userId,
    model: d.model,
    endpoint: d.endpoint,
    priority: d.priority,
    plan: d.plan,
    decision: d.decision,
    reason: d.reason ?? '',
    decided_by: d.decidedBy,
    estimated_credits: d.estimatedCredits,
    held_credits: d.heldCredits,
    allowance_credits: allowanceCredits,
    funded_by: fundedBy,
    funded_by_windows: windows,
    reservation_expires_at: expires.value,
    retry_after_ms: d.retryAfterMs,
    available_credits: d.availableCredits,
    load_multiplier: d.multipliers.load,
    reputation_factor: d.multipliers.reputation,
    price_book_version: d.priceBookVersion,
    limit_names: d.limits.map((l) => l.name),
    limit_values: d.limits.map((l) => l.limit),
    limit_remaining: d.limits.map((l) => l.remaining),
    limit_reset_ms: d.limits.map((l) => l.resetMs),
    estimate_meter_names: meterNames,
    estimate_meter_values: meterNames.map((n) => d.estimate.meters[n] ?? 0),
    estimate_dimension_names: dimensionNames,
    estimate_dimension_values: dimensionNames.map((n) => d.estimate.dimensions[n] ?? ''),
    decision_latency_us: d.decisionLatencyUs,
  };
  return { ok: true, table: 'admission_decisions', row, accountId: d.accountId, timeMs: Date.parse(d.decidedAt) };
}

function usageRow(event: AccessEvent<typeof EVENTS.usageRequestCompleted>, from: KafkaOrigin, context: MapContext): MappedRow {
  const d = event.data;
  const ended = splitIsoTime(d.endedAt);
  if (!ended.ok) return fail(`data.endedAt: ${ended.reason}`);
  const started = splitIsoTime(d.startedAt);
  if (!started.ok) return fail(`data.startedAt: ${started.reason}`);
  if (d.gpuSeconds > gpuSecondsMax) return fail(`data.gpuSeconds: more than ${gpuSecondsMax} cannot be stored`);
  // A failed or cancelled request is charged only for what its meters report, which is what pricing its meters gives.
  const priced = context.price(d.model, d.meters, d.dimensions);
  const meterNames = Object.keys(d.meters).sort();
  const dimensionNames = Object.keys(d.dimensions).sort();
  const row: UsageRow = {
    ...origin(event, from, context.nowMs),
    time: ended.value.seconds,
    time_ms: ended.value.ms,
    started_at: started.value.seconds,
    started_at_ms: started.value.ms,
    admission_id: d.admissionId,
    request_id: d.requestId,
    account_id: d.accountId,
    user_id: d.userId,
    model: d.model,
    endpoint: d.endpoint,
    status: d.status,
    meter_names: meterNames,
    meter_values: meterNames.map((n) => d.meters[n] ?? 0),
    dimension_names: dimensionNames,
    dimension_values: dimensionNames.map((n) => d.dimensions[n] ?? ''),
    gpu_seconds: Math.round(d.gpuSeconds * 1e6) / 1e6,
    duration_ms: d.durationMs,
    // The whole cost until the allowance part of its decision is known (`withAllowance`).
    charged_credits: priced.ok ? priced.credits : 0,
    allowance_credits: 0,
    pricing_error: priced.ok ? '' : priced.reason,
  };
  return { ok: true, table: 'request_usage', row, accountId: d.accountId, timeMs: Date.parse(d.endedAt) };
}

type LedgerEvent = AccessEvent<
  | typeof EVENTS.creditsGranted
  | typeof EVENTS.creditsReserved
  | typeof EVENTS.reservationSettled
  | typeof EVENTS.reservationVoided
  | typeof EVENTS.reservationExpired
  | typeof EVENTS.grantExpired
  | typeof EVENTS.creditsAdjusted
>;

type LedgerSpecific = Omit<LedgerRow, keyof OriginColumns | 'time' | 'time_ms' | 'account_id' | 'version' | 'type'>;

const emptyLedger: LedgerSpecific = {
  credits: 0,
  balance_delta: 0,
  held_delta: 0,
  grant_id: '',
  admission_id: '',
  request_id: '',
  adjustment_id: '',
  source: '',
  priority: 0,
  effective_at: null,
  expires_at: null,
  held_credits: 0,
  actual_credits: 0,
  released_credits: 0,
  overshoot_credits: 0,
  draw_grant_ids: [],
  draw_credits: [],
  reason: '',
};

/** `io.access.ledger.credits_granted.v1` → `ledger.credits_granted`. */
export function shortEventName(type: string): string {
  return type.replace(/^io\.access\./, '').replace(/\.v\d+$/, '');
}

function ledgerSpecific(event: LedgerEvent): { ok: true; value: LedgerSpecific } | { ok: false; reason: string } {
  switch (event.type) {
    case EVENTS.creditsGranted: {
      const d = event.data;
      const effective = nullableTime(d.effectiveAt);
      if (!effective.ok) return { ok: false, reason: `data.effectiveAt: ${effective.reason}` };
      const expires = nullableTime(d.expiresAt);
      if (!expires.ok) return { ok: false, reason: `data.expiresAt: ${expires.reason}` };
      return {
        ok: true,
        value: { ...emptyLedger, credits: d.credits, balance_delta: d.credits, grant_id: d.grantId, source: d.source, priority: d.priority, effective_at: effective.value, expires_at: expires.value },
      };
    }
    case EVENTS.creditsReserved: {
      const d = event.data;
      const expires = nullableTime(d.expiresAt);
      if (!expires.ok) return { ok: false, reason: `data.expiresAt: ${expires.reason}` };
      return {
        ok: true,
        value: {
          ...emptyLedger, credits: d.credits, held_delta: d.credits, held_credits: d.credits, admission_id: d.admissionId, request_id: d.requestId,
          expires_at: expires.value, draw_grant_ids: d.draws.map((x) => x.grantId), draw_credits: d.draws.map((x) => x.credits),
        },
      };
    }
    case EVENTS.reservationSettled: {
      const d = event.data;
      return {
        ok: true,
        value: {
          ...emptyLedger, credits: d.actualCredits, balance_delta: -d.actualCredits, held_delta: -d.heldCredits, admission_id: d.admissionId,
          request_id: d.requestId, held_credits: d.heldCredits, actual_credits: d.actualCredits, released_credits: d.releasedCredits,
          overshoot_credits: d.overshootCredits, draw_grant_ids: d.draws.map((x) => x.grantId), draw_credits: d.draws.map((x) => x.credits),
        },
      };
    }
    case EVENTS.reservationVoided: {
      const d = event.data;
      return {
        ok: true,
        value: { ...emptyLedger, credits: d.releasedCredits, held_delta: -d.releasedCredits, admission_id: d.admissionId, request_id: d.requestId, released_credits: d.releasedCredits, reason: d.reason },
      };
    }
    case EVENTS.reservationExpired: {
      const d = event.data;
      return {
        ok: true,
        value: { ...emptyLedger, credits: d.releasedCredits, held_delta: -d.releasedCredits, admission_id: d.admissionId, request_id: d.requestId, released_credits: d.releasedCredits },
      };
    }
    case EVENTS.grantExpired: {
      const d = event.data;
      return { ok: true, value: { ...emptyLedger, credits: d.forfeitedCredits, balance_delta: -d.forfeitedCredits, grant_id: d.grantId } };
    }
    case EVENTS.creditsAdjusted: {
      const d = event.data;
      return { ok: true, value: { ...emptyLedger, credits: d.credits, balance_delta: d.credits, adjustment_id: d.adjustmentId, reason: d.reason } };
    }
    default: {
      const _exhaustive: never = event;
      return _exhaustive;
    }
  }
}

function ledgerRow(event: LedgerEvent, from: KafkaOrigin, context: MapContext): MappedRow {
  const time = splitIsoTime(event.data.occurredAt);
  if (!time.ok) return fail(`data.occurredAt: ${time.reason}`);
  const specific = ledgerSpecific(event);
  if (!specific.ok) return fail(specific.reason);
  const row: LedgerRow = {
    ...origin(event, from, context.nowMs),
    time: time.value.seconds,
    time_ms: time.value.ms,
    account_id: event.data.accountId,
    version: event.data.version,
    type: shortEventName(event.type),
    ...specific.value,
  };
  return { ok: true, table: 'ledger_entries', row, accountId: event.data.accountId, timeMs: Date.parse(event.data.occurredAt) };
}

/**
 * A completion's row with its cost split as the ledger splits it: the allowance part of its decision covers up to the
 * whole cost, and the rest is what the ledger charged (its settlement's `actualCredits`). `allowanceCredits` is the
 * decision's allowance part, 0 when the decision has none or is not known (the ledger then charges the whole cost).
 * Applied once, to a row from `mapEvent` (whose `charged_credits` is the whole cost).
 */
export function withAllowance(row: UsageRow, allowanceCredits: number): UsageRow {
  const cost = row.charged_credits + row.allowance_credits;
  const allowance = Math.min(cost, Math.max(0, allowanceCredits));
  return { ...row, charged_credits: cost - allowance, allowance_credits: allowance };
}

export interface DedupeKey {
  /** What makes two events one row: see dedupe.ts. */
  key: string;
  /** When the key was created, from its UUIDv7; -Infinity when it carries no time (an id from another producer). */
  keyTimeMs: number;
}

function creationTimeMs(id: string): number {
  return uuidv7Schema.safeParse(id).success ? uuidv7TimeMs(id) : Number.NEGATIVE_INFINITY;
}

/**
 * The dedupe key of an event's row. A completion is one row per `admissionId` (CONTRACTS.md: a second completion of
 * the same admission, under a new event id with the same or other content, never adds a row); every other event is
 * one row per (`source`, `id`).
 */
export function dedupeKeyOf(event: AnyAccessEvent): DedupeKey {
  if (event.type === EVENTS.usageRequestCompleted) {
    return { key: event.data.admissionId, keyTimeMs: creationTimeMs(event.data.admissionId) };
  }
  return { key: eventIdentity(event), keyTimeMs: creationTimeMs(event.id) };
}
