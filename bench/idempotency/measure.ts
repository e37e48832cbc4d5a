/**
 * One measurement of bench/idempotency (run by main.ts in a fresh process with --expose-gc): the heap that N
 * idempotency entries take, for the layout named by argv[2]:
 * - `event`: what admission kept before (the whole `admission.decided` event and the canonical fingerprint string,
 *   in an ExpiringMemo);
 * - `packed`: what it keeps now (IdempotencyStore: the key and one latin1 string of ~100 bytes per entry).
 * Prints one JSON line: {layout, entries, heapBytes, bytesPerEntry, insertNsPerEntry, replayNsPerLookup}.
 */
import { randomUUID } from 'node:crypto';
import { AnswerCodec, ExpiringMemo, fingerprintDigest, fingerprintOf, idempotencyKey, IdempotencyStore } from '@access/admission-application';
import type { AdmissionDecidedV1 } from '@access/contracts';

const layout = process.argv[2] as 'event' | 'packed';
const entries = Number(process.argv[3] ?? 300_000);
const TTL_MS = 86_400_000;
const T0 = Date.parse('2026-12-01T00:00:00.000Z');

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with --expose-gc');

/**
 * A string as JSON.parse makes it from a request body: flat. (randomUUID() and template literals give rope strings
 * whose pieces would be counted too, which no request holds.)
 */
const flat = (s: string): string => Buffer.from(s, 'latin1').toString('latin1');

/** A decision as decidedEventData builds it: fresh objects and strings per request, as parsing a request gives them. */
function decision(i: number): AdmissionDecidedV1 {
  const decidedAtMs = T0 + Math.floor(i / 1_000) * 1_000 + (i % 1_000);
  const admitted = i % 10 !== 0;
  const credits = 50 + (i % 400);
  return {
    admissionId: flat(randomUUID().replace(/^(.{14})./, '$17')),
    requestId: flat(randomUUID()),
    accountId: flat(`acct-${100_000 + (i % 10_000)}`),
    userId: flat(`u-${i % 50_000}`),
    model: 'sora-2',
    endpoint: 'video.generate',
    priority: 'standard',
    plan: 'plus',
    decision: admitted ? 'admitted' : 'rejected',
    reason: admitted ? null : 'rate_limited',
    decidedBy: admitted ? 'credits' : 'protective_limits',
    estimatedCredits: credits,
    fundedBy: admitted ? [{ source: 'allowance', window: '5h', credits: 20 }, { source: 'credits', credits: credits - 20 }] : [],
    heldCredits: admitted ? credits - 20 : 0,
    reservationExpiresAt: admitted ? new Date(decidedAtMs + 1_800_000).toISOString() : null,
    limits: [
      { name: 'user.requests_per_minute', limit: 60, remaining: i % 60, resetMs: 1_000 * (i % 60) },
      { name: 'user.concurrent_requests', limit: 3, remaining: i % 3, resetMs: 0 },
      { name: 'account.credits_per_minute', limit: 6_000, remaining: 6_000 - credits, resetMs: 1_500 + (i % 997) },
      { name: 'allowance.video.5h', limit: 500, remaining: i % 500, resetMs: 3_600_000 + i },
      { name: 'allowance.video.7d', limit: 2_000, remaining: i % 2_000, resetMs: 86_400_000 - i },
    ],
    multipliers: { load: 1, reputation: 1 },
    priceBookVersion: '2026-11-01',
    estimate: { meters: { video_seconds: credits / 10 }, dimensions: { resolution: '720p' } },
    retryAfterMs: admitted ? null : 1_000 + (i % 59_000),
    availableCredits: 10_000 - credits,
    decisionLatencyUs: 3.6,
    decidedAt: new Date(decidedAtMs).toISOString(),
  };
}

function heap(): number {
  gc!();
  gc!();
  return process.memoryUsage().heapUsed;
}

const keys: string[] = [];
const nowMs = T0 + entries; // everything inserted is still within its TTL
let keep: unknown;
const before = heap();
const t0 = process.hrtime.bigint();
if (layout === 'event') {
  const memo = new ExpiringMemo<{ fingerprint: string; event: AdmissionDecidedV1 | null; pending: null }>(entries);
  for (let i = 0; i < entries; i++) {
    const event = decision(i);
    const key = idempotencyKey(event.accountId, event.requestId);
    memo.set(key, { fingerprint: fingerprintOf(event), event, pending: null }, Date.parse(event.decidedAt) + TTL_MS, nowMs);
    if (i % 1_000 === 0) keys.push(key);
  }
  keep = memo;
} else {
  const store = new IdempotencyStore<never>(entries, TTL_MS);
  const codec = new AnswerCodec();
  for (let i = 0; i < entries; i++) {
    const event = decision(i);
    const key = idempotencyKey(event.accountId, event.requestId);
    store.remember(key, codec.encode(fingerprintDigest(event, 42), event), nowMs);
    if (i % 1_000 === 0) keys.push(key);
  }
  keep = { store, codec };
}
const insertNs = Number(process.hrtime.bigint() - t0) / entries;
// The sampled keys are 1 in 1,000 of the entries; their array is subtracted from the figure.
const sampleBytes = keys.length * (8 + 16 + 64);
const heapBytes = heap() - before - sampleBytes;

// A replay: find the key and rebuild its answer (the packed layout decodes; the event layout hands the object back).
const t1 = process.hrtime.bigint();
let found = 0;
for (let round = 0; round < 20; round++) {
  for (const key of keys) {
    if (layout === 'event') {
      if ((keep as ExpiringMemo<{ event: AdmissionDecidedV1 }>).get(key, nowMs)?.event) found++;
    } else {
      const { store, codec } = keep as { store: IdempotencyStore<never>; codec: AnswerCodec };
      const seen = store.find(key, nowMs);
      if (seen.kind === 'decided' && codec.decode(seen.record, 'r').admissionId) found++;
    }
  }
}
const replayNs = Number(process.hrtime.bigint() - t1) / (20 * keys.length);
if (found !== 20 * keys.length) throw new Error(`found ${found} of ${20 * keys.length}`);
console.log(JSON.stringify({ layout, entries, heapBytes, bytesPerEntry: heapBytes / entries, insertNsPerEntry: insertNs, replayNsPerLookup: replayNs }));
