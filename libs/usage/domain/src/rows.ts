/**
 * From contract events to ClickHouse rows: pure, one function per table (the ledger's in ledger-rows.ts, the columns
 * in columns.ts), and the split of a completion's cost that the ledger makes.
 */
import { EVENTS, type AccessEvent, type AnyAccessEvent } from '@access/contracts';
import { fail, gpuSecondsMax, nullableTime, origin, type DecisionRow, type KafkaOrigin, type MapContext, type MappedRow, type UsageRow } from './columns';
import { ledgerRow } from './ledger-rows';
import { splitIsoTime } from './time';

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
