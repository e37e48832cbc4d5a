/**
 * A reproducible mixed workload for the ledger's end-to-end test and benchmark: accounts with grants, and for
 * each request an admitted decision (credits, partly allowance, or allowance only) and its completion
 * (succeeded, failed with nothing metered, cancelled part-way), as contract CloudEvents, plus what the ledger
 * should make of it: the expected commands for the domain's reference model.
 */
import { EVENTS, SOURCES, makeEvent, uuidv7, type AnyAccessEvent } from '@access/contracts';
import { priceRequest, type PriceBook } from '@access/catalog';
import type { CreditAccountCommand } from '@access/credit-ledger-domain';
import { seededRandom } from '@access/testing';

export { seededRandom };

export type PlannedGrant = { accountId: string; grantId: string; credits: number; source: 'purchase' | 'promo' | 'enterprise'; expiresAt: string | null };

export type PlannedRequest = {
  accountId: string;
  admissionId: string;
  requestId: string;
  heldCredits: number;
  allowanceCredits: number;
  status: 'succeeded' | 'failed' | 'cancelled';
  costCredits: number;
  decision: AnyAccessEvent;
  completion: AnyAccessEvent;
};

export type Workload = { accounts: string[]; grants: PlannedGrant[]; requests: PlannedRequest[] };

const resolutions = ['480p', '720p', '1080p'] as const;

export function planWorkload(options: {
  accounts: number;
  requestsPerAccount: number;
  seed: number;
  priceBook: PriceBook;
  nowMs: number;
  prefix?: string;
  /** Share of requests with an allowance part (default 0.2) and paid by allowance only (default 0.05). */
  allowanceShare?: number;
  allowanceOnlyShare?: number;
  /** Share of completions that fail with nothing metered (default 0.2) and that are cancelled part-way (0.1). */
  failedShare?: number;
  cancelledShare?: number;
  grantsPerAccount?: boolean;
}): Workload {
  const random = seededRandom(options.seed);
  const int = (min: number, max: number) => min + Math.floor(random() * (max - min + 1));
  const prefix = options.prefix ?? 'acct';
  const accounts = Array.from({ length: options.accounts }, (_, i) => `${prefix}-${i}`);
  const far = new Date(options.nowMs + 365 * 24 * 3_600_000).toISOString();
  const grants: PlannedGrant[] = [];
  if (options.grantsPerAccount !== false) {
    for (const accountId of accounts) {
      grants.push({ accountId, grantId: `${accountId}-purchase`, credits: int(1_000, 5_000), source: 'purchase', expiresAt: null });
      grants.push({ accountId, grantId: `${accountId}-promo`, credits: int(200, 1_000), source: 'promo', expiresAt: far });
      if (random() < 0.5) grants.push({ accountId, grantId: `${accountId}-enterprise`, credits: int(500, 2_000), source: 'enterprise', expiresAt: null });
    }
  }
  const price = (seconds: number, resolution: string) => {
    const priced = priceRequest(options.priceBook, 'sora-2', { video_seconds: seconds }, { resolution });
    if (!priced.ok) throw new Error(priced.error.message);
    return priced.credits;
  };
  const requests: PlannedRequest[] = [];
  let clock = options.nowMs;
  for (let r = 0; r < options.requestsPerAccount; r++) {
    for (const accountId of accounts) {
      clock += 1;
      const admissionId = uuidv7(clock, random);
      const requestId = `req-${accountId}-${r}`;
      const resolution = resolutions[int(0, 2)]!;
      const seconds = int(1, 12);
      const estimate = price(seconds, resolution);
      const roll = random();
      const allowanceOnly = roll < (options.allowanceOnlyShare ?? 0.05);
      const partAllowance = !allowanceOnly && roll < (options.allowanceOnlyShare ?? 0.05) + (options.allowanceShare ?? 0.2);
      const allowanceCredits = allowanceOnly ? estimate : partAllowance ? Math.max(1, Math.floor(estimate * 0.4)) : 0;
      const heldCredits = estimate - allowanceCredits;
      const decidedAt = new Date(clock).toISOString();
      const fundedBy = [
        ...(allowanceCredits > 0 ? [{ source: 'allowance' as const, window: '5h', credits: allowanceCredits }] : []),
        ...(heldCredits > 0 ? [{ source: 'credits' as const, credits: heldCredits }] : []),
      ];
      const decision = makeEvent(EVENTS.admissionDecided, {
        id: uuidv7(clock, random),
        source: SOURCES.admission,
        time: decidedAt,
        data: {
          admissionId, requestId, accountId, userId: `u-${accountId}`, model: 'sora-2', endpoint: 'video.generate', priority: 'standard',
          plan: 'payg', decision: 'admitted', reason: null, decidedBy: heldCredits > 0 ? 'credits' : 'allowance', estimatedCredits: estimate,
          fundedBy, heldCredits, reservationExpiresAt: heldCredits > 0 ? new Date(clock + 30 * 60_000).toISOString() : null,
          limits: [], multipliers: { load: 1, reputation: 1 }, priceBookVersion: options.priceBook.version,
          estimate: { meters: { video_seconds: seconds }, dimensions: { resolution } }, retryAfterMs: null, availableCredits: null,
          decisionLatencyUs: 10, decidedAt,
        },
      });
      const statusRoll = random();
      const status = statusRoll < (options.failedShare ?? 0.2) ? 'failed' : statusRoll < (options.failedShare ?? 0.2) + (options.cancelledShare ?? 0.1) ? 'cancelled' : 'succeeded';
      const actualSeconds = status === 'failed' ? 0 : status === 'cancelled' ? int(0, seconds) : Math.max(1, seconds + int(-3, 3));
      const costCredits = actualSeconds === 0 ? 0 : price(actualSeconds, resolution);
      const endedAt = new Date(clock + 1_000).toISOString();
      const completion = makeEvent(EVENTS.usageRequestCompleted, {
        id: uuidv7(clock + 1_000, random),
        source: '/fleet/test',
        time: endedAt,
        data: {
          admissionId, requestId, accountId, userId: `u-${accountId}`, model: 'sora-2', endpoint: 'video.generate', status,
          meters: { video_seconds: actualSeconds }, dimensions: { resolution }, gpuSeconds: actualSeconds * 3, durationMs: 1_000,
          startedAt: decidedAt, endedAt,
        },
      });
      requests.push({ accountId, admissionId, requestId, heldCredits, allowanceCredits, status, costCredits, decision, completion });
    }
  }
  return { accounts, grants, requests };
}

/**
 * The commands the ledger's effect must equal, in the canonical order (decision before completion), for the
 * domain's reference model. The ledger may see a completion before its decision; the balance must not differ.
 */
export function expectedCommands(request: PlannedRequest, now: string): CreditAccountCommand[] {
  const commands: CreditAccountCommand[] = [];
  const meta = { now };
  if (request.heldCredits > 0) {
    commands.push({
      type: 'reserve',
      data: { admissionId: request.admissionId, requestId: request.requestId, credits: request.heldCredits, expiresAt: new Date(Date.parse(now) + 3_600_000).toISOString() },
      metadata: meta,
    });
  }
  const charge = Math.max(0, request.costCredits - request.allowanceCredits);
  if (charge === 0 && request.status !== 'succeeded' && request.heldCredits > 0) {
    commands.push({ type: 'void', data: { admissionId: request.admissionId, reason: request.status }, metadata: meta });
  } else if (charge > 0 || request.heldCredits > 0) {
    commands.push({ type: 'settle', data: { admissionId: request.admissionId, requestId: request.requestId, actualCredits: charge }, metadata: meta });
  }
  return commands;
}
