// Test support for this library's specs (not exported): a small catalog with round numbers, and
// request builders, so each scenario states only what it is about.
import { parseCatalog, type Catalog, type Priority } from '@access/catalog';
import type { AdmissionOptions } from './admission-options';
import { AdmissionState } from './admission-state';
import type { AdmissionRequest, DecideResult, Decision } from './decision';

export const PLANS_YAML = `
defaults: { reservationTimeout: 10m, idempotencyTtl: 24h, unknownAccountPlan: payg }
plans:
  basic:
    requestsPerMinute: 3
    concurrentRequests: 2
    creditsPerMinute: 1000
    priorities: [standard, batch]
    allowance:
      - { family: video, window: 5h, credits: 100 }
      - { family: video, window: 7d, credits: 150 }
      - { family: code, window: 5h, credits: 50 }
    grant: { creditsPerPeriod: 0, period: monthly, rolloverCapCredits: 0 }
  payg:
    requestsPerMinute: 5
    concurrentRequests: 3
    creditsPerMinute: 500
    priorities: [standard, batch]
    grant: { creditsPerPeriod: 0, period: monthly, rolloverCapCredits: 0 }
  big:
    requestsPerMinute: 1000
    concurrentRequests: 1000
    creditsPerMinute: 1000000
    priorities: [critical, standard, batch]
    allowance:
      - { family: video, window: 1h, credits: 500 }
    grant: { creditsPerPeriod: 0, period: monthly, rolloverCapCredits: 0 }
    reservationTimeout: 1h
`;

export const PRICE_BOOK_YAML = `
version: "test-1"
models:
  sora-2:
    family: video
    meters: { video_seconds: { credits: 10 } }
    dimensions: { resolution: { "480p": 0.5, "720p": 1, "1080p": 2 } }
  codex-1:
    family: code
    meters: { input_tokens: { credits: 0.2, per: 1000 }, output_tokens: { credits: 0.8, per: 1000 } }
`;

export function testCatalog(plansYaml = PLANS_YAML): Catalog {
  const result = parseCatalog(plansYaml, PRICE_BOOK_YAML);
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return result.value;
}

export function newState(options: Partial<AdmissionOptions> = {}, plansYaml = PLANS_YAML): AdmissionState {
  const { plans, priceBook } = testCatalog(plansYaml);
  return new AdmissionState({ plans, priceBook, options });
}

let nextId = 0;

/** A sora-2 request at 720p costing 10 credits per second (`seconds`, default 1). */
export function video(overrides: Partial<AdmissionRequest> & { seconds?: number } = {}): AdmissionRequest {
  const { seconds = 1, ...rest } = overrides;
  return {
    admissionId: `adm-${++nextId}`,
    requestId: `req-${nextId}`,
    accountId: 'acct-1',
    userId: 'u-1',
    model: 'sora-2',
    endpoint: 'video.generate',
    priority: 'standard' as Priority,
    estimate: { meters: { video_seconds: seconds }, dimensions: { resolution: '720p' } },
    ...rest,
  };
}

/** A request costing exactly `credits` (sora-2 at 720p, 10 credits per second, so multiples of 10 are exact). */
export function costing(credits: number, overrides: Partial<AdmissionRequest> = {}): AdmissionRequest {
  return video({ seconds: credits / 10, ...overrides });
}

export function asDecision(result: DecideResult): Decision {
  if (result.decision === 'error') throw new Error(`expected a decision, got ${result.code}: ${result.message}`);
  return result;
}

/** Opens an account at the ledger: balance `availableCredits` at `version` on `plan`. */
export function withAccount(state: AdmissionState, accountId: string, plan: string, availableCredits: number, version = 1): AdmissionState {
  state.applyBalance({ accountId, plan, version, availableCredits });
  return state;
}
