/**
 * A deterministic mix of valid events (decisions, completions, ledger entries), duplicates and poison messages, with
 * the reference every count and sum in ClickHouse must equal. Shared by the crash test and bench/ingest.
 */
import { EVENTS, SOURCES, makeEvent, newEventId, uuidv7, type AnyAccessEvent } from '@access/contracts';
import { priceRequest, type PriceBook } from '@access/catalog';
import { seededRandom as prng } from '@access/testing';

export interface GeneratedMessage {
  table: 'admission_decisions' | 'request_usage' | 'ledger_entries';
  key: string;
  value: string;
  /** Set on poison messages: a marker that appears in the value, to find it in the dead-letter topic. */
  poisonId?: string;
  /** Set on valid events. */
  event?: AnyAccessEvent;
}

export interface Mix {
  /** In publishing order: valid events with duplicates and poison interleaved. */
  messages: GeneratedMessage[];
  unique: AnyAccessEvent[];
  poisonIds: string[];
  duplicates: number;
}

export { prng };

const plans = ['free', 'plus', 'pro', 'enterprise', 'payg'] as const;
const priorities = ['standard', 'batch', 'critical'] as const;
const rejections = ['rate_limited', 'concurrency_limited', 'load_shed', 'insufficient_credits'] as const;
const statuses = ['succeeded', 'succeeded', 'succeeded', 'failed', 'cancelled'] as const;

export interface MixOptions {
  /** Valid events, roughly (the last request may add a few). */
  events: number;
  duplicateRatio: number;
  poisonRatio: number;
  seed: number;
  accounts?: number;
  /** Time of the first event; events are 1 ms apart per request. */
  startMs: number;
}

export function generateMix(options: MixOptions): Mix {
  const random = prng(options.seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const accounts = options.accounts ?? 500;
  const versions = new Map<string, number>();
  const nextVersion = (account: string) => {
    const v = (versions.get(account) ?? 0) + 1;
    versions.set(account, v);
    return v;
  };
  const unique: AnyAccessEvent[] = [];
  const valid: GeneratedMessage[] = [];
  const push = (table: GeneratedMessage['table'], event: AnyAccessEvent) => {
    unique.push(event);
    valid.push({ table, key: event.subject, value: JSON.stringify(event), event });
  };

  let t = options.startMs;
  let request = 0;
  while (unique.length < options.events) {
    request += 1;
    t += 1 + Math.floor(random() * 3);
    const iso = (ms: number) => new Date(ms).toISOString();
    const accountId = `acct-${Math.floor(random() * accounts)}`;
    const userId = `u-${Math.floor(random() * 4)}`;
    const video = random() < 0.5;
    const model = video ? 'sora-2' : 'codex-1';
    const endpoint = video ? 'video.generate' : 'code.complete';
    const plan = pick(plans);
    const priority = pick(priorities);
    const estimate: { meters: Record<string, number>; dimensions: Record<string, string> } = video
      ? { meters: { video_seconds: 1 + Math.floor(random() * 10) }, dimensions: { resolution: pick(['480p', '720p', '1080p'] as const) } }
      : { meters: { input_tokens: Math.floor(random() * 5000), output_tokens: Math.floor(random() * 3000) }, dimensions: {} };
    const estimatedCredits = 1 + Math.floor(random() * 300);
    // As admission makes it: a UUIDv7 of the moment it decided.
    const admissionId = uuidv7(t, random);
    const requestId = `req-${options.seed}-${request}`;
    const admitted = random() < 0.8;
    const fromAllowance = admitted && random() < 0.4 ? Math.floor(estimatedCredits * random()) : 0;
    const held = admitted ? estimatedCredits - fromAllowance : 0;
    const reason = admitted ? null : pick(rejections);
    const base = {
      admissionId, requestId, accountId, userId, model, endpoint, priority, plan,
      estimatedCredits, limits: [{ name: 'user_requests_per_minute', limit: 60, remaining: 10, resetMs: 60_000 }],
      multipliers: { load: pick([0, 0.5, 1, 1, 1, 2]), reputation: 1 }, priceBookVersion: '2026-11-01', estimate,
      decisionLatencyUs: Math.floor(random() * 100), decidedAt: iso(t),
    };
    const decided = makeEvent(EVENTS.admissionDecided, {
      id: newEventId(), source: SOURCES.admission, time: iso(t),
      data: admitted
        ? {
            ...base, decision: 'admitted', reason: null, decidedBy: held > 0 ? 'credits' : 'allowance',
            fundedBy: [...(fromAllowance > 0 || held === 0 ? [{ source: 'allowance' as const, window: '5h', credits: fromAllowance }] : []), ...(held > 0 ? [{ source: 'credits' as const, credits: held }] : [])],
            heldCredits: held, reservationExpiresAt: held > 0 ? iso(t + 900_000) : null, retryAfterMs: null, availableCredits: 1000,
          }
        : {
            ...base, decision: 'rejected', reason, decidedBy: reason === 'insufficient_credits' ? 'credits' : reason === 'load_shed' ? 'load_shedding' : 'protective_limits',
            fundedBy: [], heldCredits: 0, reservationExpiresAt: null, retryAfterMs: reason === 'insufficient_credits' ? null : 1000,
            availableCredits: reason === 'insufficient_credits' ? 3 : null,
          },
    });
    push('admission_decisions', decided);
    if (!admitted) continue;
    if (held > 0) {
      push('ledger_entries', makeEvent(EVENTS.creditsReserved, {
        id: newEventId(), source: SOURCES.creditLedger, time: iso(t),
        data: { accountId, version: nextVersion(accountId), occurredAt: iso(t), admissionId, requestId, credits: held, draws: [{ grantId: 'g-1', credits: held }], expiresAt: iso(t + 900_000) },
      }));
    }
    const status = pick(statuses);
    const durationMs = 100 + Math.floor(random() * 60_000);
    const completed = makeEvent(EVENTS.usageRequestCompleted, {
      id: newEventId(), source: '/fleet/test', time: iso(t + 1),
      data: {
        admissionId, requestId, accountId, userId, model, endpoint, status,
        meters: status === 'cancelled' ? {} : estimate.meters, dimensions: estimate.dimensions,
        gpuSeconds: Math.floor(random() * 1e7) / 1e4, durationMs, startedAt: iso(t), endedAt: iso(t + 1),
      },
    });
    push('request_usage', completed);
    if (held > 0) {
      const actual = Math.floor(random() * held * 1.2);
      push('ledger_entries', makeEvent(EVENTS.reservationSettled, {
        id: newEventId(), source: SOURCES.creditLedger, time: iso(t + 1),
        data: {
          accountId, version: nextVersion(accountId), occurredAt: iso(t + 1), admissionId, requestId, heldCredits: held, actualCredits: actual,
          releasedCredits: Math.max(0, held - actual), overshootCredits: Math.max(0, actual - held), draws: [{ grantId: 'g-1', credits: actual }],
        },
      }));
    }
    if (random() < 0.05) {
      push('ledger_entries', makeEvent(EVENTS.creditsGranted, {
        id: newEventId(), source: SOURCES.creditLedger, time: iso(t + 1),
        data: { accountId, version: nextVersion(accountId), occurredAt: iso(t + 1), grantId: `g-${request}`, credits: 1000, source: 'purchase', priority: 10, effectiveAt: iso(t + 1), expiresAt: null },
      }));
    }
  }

  // Interleave duplicates (the same message again, later) and poison messages.
  const messages: GeneratedMessage[] = [];
  const pendingDuplicates: { at: number; message: GeneratedMessage }[] = [];
  const poisonIds: string[] = [];
  let duplicates = 0;
  valid.forEach((message, i) => {
    messages.push(message);
    if (random() < options.duplicateRatio) {
      pendingDuplicates.push({ at: i + 1 + Math.floor(random() * 5_000), message });
      duplicates += 1;
    }
    for (let d = pendingDuplicates.length - 1; d >= 0; d--) {
      if (pendingDuplicates[d]!.at <= i) {
        messages.push(pendingDuplicates[d]!.message);
        pendingDuplicates.splice(d, 1);
      }
    }
    if (random() < options.poisonRatio) {
      const poisonId = `poison-${options.seed}-${poisonIds.length}`;
      poisonIds.push(poisonId);
      messages.push(poison(message, poisonId, pick(['not_json', 'unknown_type', 'invalid_field', 'wrong_subject'] as const)));
    }
  });
  for (const { message } of pendingDuplicates) messages.push(message);
  return { messages, unique, poisonIds, duplicates };
}

function poison(like: GeneratedMessage, poisonId: string, kind: 'not_json' | 'unknown_type' | 'invalid_field' | 'wrong_subject'): GeneratedMessage {
  const event = JSON.parse(like.value) as { type: string; subject: string; data: Record<string, unknown> };
  switch (kind) {
    case 'not_json':
      return { table: like.table, key: like.key, value: `{"not json ${poisonId}`, poisonId };
    case 'unknown_type':
      return { table: like.table, key: like.key, value: JSON.stringify({ ...event, type: 'io.access.nope.v1', data: { ...event.data, marker: poisonId } }), poisonId };
    case 'invalid_field':
      return { table: like.table, key: like.key, value: JSON.stringify({ ...event, data: { ...event.data, accountId: `bad account ${poisonId}` } }), poisonId };
    case 'wrong_subject':
      return { table: like.table, key: like.key, value: JSON.stringify({ ...event, subject: `other-${poisonId}` }), poisonId };
    default: {
      const _exhaustive: never = kind;
      return _exhaustive;
    }
  }
}

/** GPU seconds in micro-units, as Decimal64(6) stores them, so reference sums are exact integers. */
export const gpuMicros = (gpuSeconds: number): bigint => BigInt(Math.round(gpuSeconds * 1e6));

export interface Reference {
  /** `table` → SQL aggregate query → expected rows as `key|values` strings, sorted. */
  checks: { name: string; sql: (db: string) => string; expected: string[] }[];
}

const minute = (iso: string) => `${iso.slice(0, 10)} ${iso.slice(11, 16)}:00`;

function grouped(rows: [string, bigint[]][]): string[] {
  const map = new Map<string, bigint[]>();
  for (const [key, values] of rows) {
    const sum = map.get(key);
    if (sum === undefined) map.set(key, [...values]);
    else values.forEach((v, i) => (sum[i] = sum[i]! + v));
  }
  return [...map].map(([k, v]) => `${k}|${v.join('|')}`).sort();
}

/**
 * The expected result of every check, computed from the unique events directly (not through the sink's mapping).
 * Every table and rollup: a total, and the rollups grouped by their whole key.
 */
export function referenceOf(unique: readonly AnyAccessEvent[], priceBook: PriceBook): Reference {
  const decisions: [string, bigint[]][] = [];
  const decisionsMinutely: [string, bigint[]][] = [];
  const usage: [string, bigint[]][] = [];
  const usageMinutely: [string, bigint[]][] = [];
  const ledger: [string, bigint[]][] = [];
  const activity: [string, bigint[]][] = [];
  /** The allowance part of each admitted decision: a completion's cost is split as the ledger splits it. */
  const allowanceOf = new Map<string, number>();
  for (const e of unique) {
    switch (e.type) {
      case EVENTS.admissionDecided: {
        const d = e.data;
        const allowance = d.fundedBy.reduce((s, f) => s + (f.source === 'allowance' ? f.credits : 0), 0);
        if (d.decision === 'admitted') allowanceOf.set(d.admissionId, allowance);
        decisions.push([d.decision, [1n, BigInt(d.estimatedCredits), BigInt(d.heldCredits), BigInt(allowance)]]);
        decisionsMinutely.push([[minute(d.decidedAt), d.model, d.plan, d.priority, d.decision, d.reason ?? ''].join(','), [1n, BigInt(d.estimatedCredits), BigInt(allowance), BigInt(d.heldCredits)]]);
        activity.push([[d.accountId, d.userId, minute(d.decidedAt)].join(','), [1n, d.decision === 'rejected' ? 1n : 0n, 0n, 0n, 0n]]);
        break;
      }
      case EVENTS.usageRequestCompleted: {
        const d = e.data;
        const priced = priceRequest(priceBook, d.model, d.meters, d.dimensions);
        const cost = priced.ok ? priced.credits : 0;
        const allowance = Math.min(cost, allowanceOf.get(d.admissionId) ?? 0);
        const [charged, covered] = [BigInt(cost - allowance), BigInt(allowance)];
        const s = d.status;
        const flags = [s === 'succeeded' ? 1n : 0n, s === 'failed' ? 1n : 0n, s === 'cancelled' ? 1n : 0n];
        usage.push([s, [1n, charged, covered, gpuMicros(d.gpuSeconds), BigInt(d.durationMs)]]);
        usageMinutely.push([[minute(d.endedAt), d.accountId, d.userId, d.model, d.endpoint].join(','), [1n, ...flags, charged, covered, gpuMicros(d.gpuSeconds), BigInt(d.durationMs)]]);
        activity.push([[d.accountId, d.userId, minute(d.endedAt)].join(','), [0n, 0n, 1n, flags[0]!, flags[1]!]]);
        break;
      }
      case EVENTS.creditsReserved:
        ledger.push(['ledger.credits_reserved', [1n, BigInt(e.data.credits), 0n, BigInt(e.data.credits)]]);
        break;
      case EVENTS.reservationSettled:
        ledger.push(['ledger.reservation_settled', [1n, BigInt(e.data.actualCredits), BigInt(-e.data.actualCredits), BigInt(-e.data.heldCredits)]]);
        break;
      case EVENTS.creditsGranted:
        ledger.push(['ledger.credits_granted', [1n, BigInt(e.data.credits), BigInt(e.data.credits), 0n]]);
        break;
      default:
        throw new Error(`the generator does not make ${e.type}`);
    }
  }
  return {
    checks: [
      {
        name: 'admission_decisions by decision: count, Σ estimated, Σ held, Σ allowance',
        sql: (db) => `SELECT decision AS k, count() AS a, sum(estimated_credits) AS b, sum(held_credits) AS c, sum(allowance_credits) AS d FROM ${db}.admission_decisions GROUP BY decision`,
        expected: grouped(decisions),
      },
      {
        name: 'request_usage by status: count, Σ charged, Σ allowance, Σ gpu µs, Σ duration',
        sql: (db) =>
          `SELECT status AS k, count() AS a, sum(charged_credits) AS b, sum(allowance_credits) AS c, toString(sum(toInt64(gpu_seconds * 1000000))) AS d, ` +
          `sum(duration_ms) AS e FROM ${db}.request_usage GROUP BY status`,
        expected: grouped(usage),
      },
      {
        name: 'ledger_entries by type: count, Σ credits, Σ balance_delta, Σ held_delta',
        sql: (db) => `SELECT type AS k, count() AS a, sum(credits) AS b, sum(balance_delta) AS c, sum(held_delta) AS d FROM ${db}.ledger_entries GROUP BY type`,
        expected: grouped(ledger),
      },
      {
        name: 'usage_minutely by its key',
        sql: (db) =>
          `SELECT concat(toString(minute), ',', account_id, ',', user_id, ',', model, ',', endpoint) AS k, sum(requests) AS a, sum(succeeded) AS b, sum(failed) AS c, ` +
          `sum(cancelled) AS d, sum(charged_credits) AS e, sum(allowance_credits) AS f, toString(sum(toInt64(gpu_seconds * 1000000))) AS g, sum(duration_ms) AS h ` +
          `FROM ${db}.usage_minutely GROUP BY k`,
        expected: grouped(usageMinutely),
      },
      {
        name: 'decisions_minutely by its key',
        sql: (db) =>
          `SELECT concat(toString(minute), ',', model, ',', plan, ',', priority, ',', decision, ',', reason) AS k, sum(decisions) AS a, sum(estimated_credits) AS b, ` +
          `sum(allowance_credits) AS c, sum(held_credits) AS d FROM ${db}.decisions_minutely GROUP BY k`,
        expected: grouped(decisionsMinutely),
      },
      {
        name: 'user_activity_minutely by its key',
        sql: (db) =>
          `SELECT concat(account_id, ',', user_id, ',', toString(minute)) AS k, sum(decisions) AS a, sum(rejections) AS b, sum(completions) AS c, sum(succeeded) AS d, ` +
          `sum(failed) AS e FROM ${db}.user_activity_minutely GROUP BY k`,
        expected: grouped(activity),
      },
    ],
  };
}

/** A check's query result in the reference's `key|values` form. */
export function rowsAsStrings(rows: Record<string, string | number>[]): string[] {
  return rows.map((r) => Object.values(r).map(String).join('|')).sort();
}
