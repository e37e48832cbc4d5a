// Test support for this library's specs (not exported): the shipped catalog, an in-memory sink whose
// acknowledgements the test controls, a settable clock and increasing UUIDv7 ids.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseCatalog, type Catalog } from '@access/catalog';
import type { AdmissionDecidedV1, UsageRequestCompletedV1 } from '@access/contracts';
import { AdmissionService, type AdmissionInput } from './admission-service';
import type { DecisionAnswer } from './decision-answer';
import type { AdmissionServiceLimits } from './limits';
import { ManualClock, MemorySink, sequentialIds } from './testing';

export { ManualClock, MemorySink, sequentialIds };

export const T0 = Date.parse('2026-11-25T10:00:00.000Z');

export function shippedCatalog(): Catalog {
  const dir = join(__dirname, '..', '..', '..', '..', 'config');
  const result = parseCatalog(readFileSync(join(dir, 'plans.yaml'), 'utf8'), readFileSync(join(dir, 'price-book.yaml'), 'utf8'));
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return result.value;
}

export function newService(options: { limits?: Partial<AdmissionServiceLimits>; ready?: boolean; clock?: ManualClock } = {}) {
  const clock = options.clock ?? new ManualClock();
  const sink = new MemorySink();
  const service = new AdmissionService({ catalog: shippedCatalog(), sink, clock, ids: sequentialIds(clock), limits: options.limits });
  if (options.ready ?? true) service.finishReplay();
  return { service, sink, clock };
}

let next = 0;

/** A sora-2 request at 720p (10 credits per second) for acct-1 / u-1, unless overridden. */
export function video(overrides: Partial<AdmissionInput> & { seconds?: number } = {}): AdmissionInput {
  const { seconds = 1, ...rest } = overrides;
  next++;
  return {
    requestId: `req-${next}`,
    accountId: 'acct-1',
    userId: 'u-1',
    model: 'sora-2',
    endpoint: 'video.generate',
    priority: 'standard',
    estimate: { meters: { video_seconds: seconds }, dimensions: { resolution: '720p' } },
    ...rest,
  };
}

export function completionOf(event: AdmissionDecidedV1, seconds: number, status: UsageRequestCompletedV1['status'] = 'succeeded', atMs = Date.parse(event.decidedAt) + 1_000): UsageRequestCompletedV1 {
  return {
    admissionId: event.admissionId,
    requestId: event.requestId,
    accountId: event.accountId,
    userId: event.userId,
    model: event.model,
    endpoint: event.endpoint,
    status,
    meters: { video_seconds: seconds },
    dimensions: { resolution: '720p' },
    gpuSeconds: seconds * 2,
    durationMs: 1_000,
    startedAt: event.decidedAt,
    endedAt: new Date(atMs).toISOString(),
  };
}

/** Opens an account at the ledger on `plan` with `available` credits. */
export function openAccount(service: AdmissionService, accountId: string, plan: string, available: number, version = 1): void {
  service.applyBalance({ accountId, version, balanceCredits: available, heldCredits: 0, availableCredits: available, plan, occurredAt: new Date(T0).toISOString() });
}

/** The fields of a decision that its HTTP answer is made of, in DecisionAnswer's key order (what a replay gives back). */
export function answerOf(e: DecisionAnswer): DecisionAnswer {
  return {
    admissionId: e.admissionId,
    requestId: e.requestId,
    plan: e.plan,
    decision: e.decision,
    reason: e.reason,
    decidedBy: e.decidedBy,
    estimatedCredits: e.estimatedCredits,
    fundedBy: e.fundedBy,
    heldCredits: e.heldCredits,
    reservationExpiresAt: e.reservationExpiresAt,
    limits: e.limits,
    multipliers: e.multipliers,
    priceBookVersion: e.priceBookVersion,
    retryAfterMs: e.retryAfterMs,
    availableCredits: e.availableCredits,
    decidedAt: e.decidedAt,
  };
}
