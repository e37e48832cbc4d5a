import { describe, expect, it } from 'vitest';
import { EVENTS, goldenEvent, ledgerEventTypes, type AnyAccessEvent } from '@access/contracts';
import type { DecisionRow, LedgerRow, MapContext, UsageRow } from './columns';
import { shortEventName } from './ledger-rows';
import { mapEvent } from './rows';

const from = { topic: 'access.admissions.v1', partition: 3, offset: '42', timestampMs: 1_790_000_000_123 };
const context: MapContext = { price: () => ({ ok: true, credits: 160 }), nowMs: Date.parse('2026-11-25T10:01:00.000Z') };

function mapped<R>(event: AnyAccessEvent, ctx: MapContext = context): R {
  const result = mapEvent(event, from, ctx);
  if (!result.ok) throw new Error(result.reason);
  return result.row as R;
}

describe('admission.decided → admission_decisions', () => {
  it('splits the decision time, sums funding by source and keeps the Kafka origin', () => {
    const row = mapped<DecisionRow>(goldenEvent(EVENTS.admissionDecided));
    expect(row).toMatchObject({
      time: '2026-11-25 10:00:00', time_ms: 1, event_id: '01a21225-dce9-7d74-b0cf-c15a048c4809',
      account_id: 'acct-7', user_id: 'u-1', decision: 'admitted', reason: '', decided_by: 'credits',
      estimated_credits: 250, held_credits: 150, allowance_credits: 100, funded_by: 'allowance+credits', funded_by_windows: ['5h'],
      reservation_expires_at: '2026-11-25 10:15:00', load_multiplier: 1, reputation_factor: 1.1,
      limit_names: ['user_requests_per_minute', 'user_concurrent_requests', 'account_credits_per_minute', 'allowance_5h'],
      estimate_meter_names: ['video_seconds'], estimate_meter_values: [10],
      estimate_dimension_names: ['resolution'], estimate_dimension_values: ['1080p'],
      kafka_topic: 'access.admissions.v1', kafka_partition: 3, kafka_offset: '42', kafka_timestamp_ms: 1_790_000_000_123,
      ingested_at: '2026-11-25 10:01:00',
    });
  });

  it('records a rejection with its reason and no funding', () => {
    const event = goldenEvent(EVENTS.admissionDecided);
    event.data = {
      ...event.data, decision: 'rejected', reason: 'rate_limited', decidedBy: 'protective_limits', fundedBy: [], heldCredits: 0,
      reservationExpiresAt: null, retryAfterMs: 1200,
    };
    const row = mapped<DecisionRow>(event);
    expect(row).toMatchObject({ decision: 'rejected', reason: 'rate_limited', funded_by: '', allowance_credits: 0, held_credits: 0, retry_after_ms: 1200, reservation_expires_at: null });
  });
});

describe('usage.request_completed → request_usage', () => {
  it('prices the meters with the price book and rounds GPU seconds to the microsecond', () => {
    const event = goldenEvent(EVENTS.usageRequestCompleted);
    event.data.gpuSeconds = 512.1234567;
    const row = mapped<UsageRow>(event);
    expect(row).toMatchObject({
      time: '2026-11-25 10:00:48', time_ms: 710, started_at: '2026-11-25 10:00:00', started_at_ms: 500,
      status: 'succeeded', meter_names: ['video_seconds'], meter_values: [8], dimension_names: ['resolution'],
      dimension_values: ['1080p'], gpu_seconds: 512.123457, duration_ms: 48210, charged_credits: 160, pricing_error: '',
    });
  });

  it('stores a request the price book cannot price with 0 credits and the reason, rather than losing it', () => {
    const row = mapped<UsageRow>(goldenEvent(EVENTS.usageRequestCompleted), { ...context, price: () => ({ ok: false, reason: 'unknown model "x"' }) });
    expect(row.charged_credits).toBe(0);
    expect(row.pricing_error).toBe('unknown model "x"');
  });

  it('refuses GPU seconds that Decimal64(6) cannot hold', () => {
    const event = goldenEvent(EVENTS.usageRequestCompleted);
    event.data.gpuSeconds = 1e13;
    const result = mapEvent(event, from, context);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toContain('gpuSeconds');
  });

  it('refuses a time ClickHouse DateTime cannot store', () => {
    const event = goldenEvent(EVENTS.usageRequestCompleted);
    event.data.startedAt = '1969-12-31T23:59:59.000Z';
    expect(mapEvent(event, from, context).ok).toBe(false);
  });
});

describe('ledger events → ledger_entries', () => {
  // balance = Σ grants − Σ settled − Σ expired grants ± adjustments; held = Σ reserved − Σ released or settled holds.
  it.each([
    [EVENTS.creditsGranted, { type: 'ledger.credits_granted', credits: 1000, balance_delta: 1000, held_delta: 0 }],
    [EVENTS.creditsReserved, { type: 'ledger.credits_reserved', credits: 150, balance_delta: 0, held_delta: 150 }],
    [EVENTS.reservationSettled, { type: 'ledger.reservation_settled', credits: 100, balance_delta: -100, held_delta: -150, released_credits: 50, overshoot_credits: 0 }],
    [EVENTS.reservationVoided, { type: 'ledger.reservation_voided', balance_delta: 0 }],
    [EVENTS.reservationExpired, { type: 'ledger.reservation_expired', balance_delta: 0 }],
    [EVENTS.grantExpired, { type: 'ledger.grant_expired' }],
    [EVENTS.creditsAdjusted, { type: 'ledger.credits_adjusted' }],
  ] as const)('%s', (type, expected) => {
    const event = goldenEvent(type);
    const row = mapped<LedgerRow>(event);
    expect(row).toMatchObject(expected);
    expect(row.account_id).toBe(event.data.accountId);
    expect(row.version).toBe(event.data.version);
  });

  it('gives each ledger event a balance and held effect consistent with its amounts', () => {
    for (const type of ledgerEventTypes) {
      const row = mapped<LedgerRow>(goldenEvent(type));
      switch (row.type) {
        case 'ledger.credits_granted':
        case 'ledger.credits_adjusted':
          expect(row.balance_delta).toBe(row.credits);
          break;
        case 'ledger.reservation_settled':
        case 'ledger.grant_expired':
          expect(row.balance_delta).toBe(-row.credits);
          break;
        case 'ledger.reservation_voided':
        case 'ledger.reservation_expired':
          expect(row.held_delta).toBe(-row.credits);
          break;
        case 'ledger.credits_reserved':
          expect(row.held_delta).toBe(row.credits);
          break;
        default:
          throw new Error(`unexpected ${row.type}`);
      }
    }
  });
});

describe('mapEvent of a type usage-ingest does not store', () => {
  it('maps no row', () => {
    expect(mapEvent(goldenEvent(EVENTS.loadSampled), from, context).ok).toBe(false);
  });

  it('names events without prefix and version', () => {
    expect(shortEventName('io.access.ledger.credits_granted.v1')).toBe('ledger.credits_granted');
  });
});
