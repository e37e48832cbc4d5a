/**
 * The public API's shapes (CONTRACTS.md), written out here rather than imported from the monorepo's contracts so
 * that the package stands alone: it depends on nothing of this repository at run time or in its type declarations.
 * `test/contract-types.spec.ts` checks them against the contract schemas, so the two cannot drift apart silently.
 */

export type Priority = 'critical' | 'standard' | 'batch';
/** Metered quantities, e.g. `{ video_seconds: 10 }` or `{ input_tokens: 1200, output_tokens: 800 }`. */
export type Meters = Record<string, number>;
/** Pricing dimensions, e.g. `{ resolution: '1080p' }`. */
export type Dimensions = Record<string, string>;

/** The body of `POST /v1/admissions`. Without a `requestId` the client makes one (and keeps it for its retries). */
export interface AdmissionRequest {
  requestId?: string;
  accountId: string;
  userId: string;
  model: string;
  endpoint: string;
  priority?: Priority;
  estimate: { meters: Meters; dimensions?: Dimensions };
}

export type RejectionReason = 'rate_limited' | 'concurrency_limited' | 'load_shed' | 'insufficient_credits';
export type DecisionLayer = 'protective_limits' | 'load_shedding' | 'allowance' | 'credits';

export type Funding = { source: 'allowance'; window: string; credits: number } | { source: 'credits'; credits: number };

/** A limit that applied to a decision. */
export interface AppliedLimit {
  name: string;
  limit: number;
  remaining: number;
  resetMs: number;
}

/** `RateLimit-Policy`: one quota policy (`"requests";q=60;w=60`). */
export interface RateLimitPolicy {
  name: string;
  /** The quota (`q`). */
  quota: number;
  /** The window in seconds (`w`), when given. */
  windowSeconds?: number;
}

/** `RateLimit`: what is left of one policy (`"requests";r=41;t=20`). */
export interface RateLimitState {
  name: string;
  /** Remaining quota units (`r`). */
  remaining: number;
  /** Seconds until the quota resets (`t`), when given. */
  resetSeconds?: number;
}

/** The IETF RateLimit headers of an answer, parsed as RFC 9651 structured fields; absent or malformed headers give empty lists. */
export interface RateLimitHeaders {
  policies: RateLimitPolicy[];
  limits: RateLimitState[];
}

export interface Admitted {
  decision: 'admitted';
  admissionId: string;
  requestId: string;
  estimatedCredits: number;
  fundedBy: Funding[];
  reservationExpiresAt: string | null;
  priceBookVersion: string;
  limits: AppliedLimit[];
  decidedBy?: DecisionLayer;
  heldCredits?: number;
  plan?: string;
  multipliers?: { load: number; reputation: number };
  decidedAt?: string;
  rateLimit: RateLimitHeaders;
}

/** A rejection is an answer, not an error: `429` (rate, concurrency, load shed) or `402` (insufficient credits). */
export interface Rejected {
  decision: 'rejected';
  status: 402 | 429;
  reason: RejectionReason;
  /** The problem code, e.g. `ADMISSION.RATE_LIMITED`. */
  code: string;
  detail: string;
  requestId: string;
  admissionId?: string;
  estimatedCredits?: number;
  /** 429: when the same request would be admitted, from the body (or `Retry-After` when the body has none). */
  retryAfterMs?: number;
  /** 402: what the account had beyond its allowance. */
  availableCredits?: number;
  limits: AppliedLimit[];
  rateLimit: RateLimitHeaders;
}

export type AdmissionResult = Admitted | Rejected;

export type CompletionStatus = 'succeeded' | 'failed' | 'cancelled';

/** The body of `POST /v1/admissions/{admissionId}/complete`: the data of `usage.request_completed`. */
export interface Usage {
  requestId: string;
  accountId: string;
  userId: string;
  model: string;
  endpoint: string;
  status: CompletionStatus;
  meters: Meters;
  dimensions: Dimensions;
  gpuSeconds: number;
  durationMs: number;
  startedAt: string;
  endedAt: string;
}

export interface CompletionAccepted {
  status: 'accepted';
  admissionId: string;
  /** True when this admission had been completed before (completing twice is a no-op). */
  duplicate: boolean;
}

/** `POST /v1/admissions/{admissionId}/progress`: keep going, or stop because the account cannot fund more. */
export type ProgressResult =
  | { decision: 'continue'; heldCredits: number }
  | { decision: 'stop'; reason: 'insufficient_credits'; detail: string };

export interface GrantView {
  grantId: string;
  source: string;
  priority: number;
  remainingCredits: number;
  expiresAt: string | null;
  [field: string]: unknown;
}

export interface Balance {
  accountId: string;
  plan: string | null;
  balanceCredits: number;
  heldCredits: number;
  availableCredits: number;
  grants: GrantView[];
  version: number;
  asOf: string | null;
  [field: string]: unknown;
}

/** The body of `POST /v1/accounts/{accountId}/grants`: idempotent by `grantId`. */
export interface GrantRequest {
  grantId: string;
  credits: number;
  source: 'purchase' | 'promo' | 'plan' | 'enterprise';
  priority?: number;
  effectiveAt?: string;
  expiresAt?: string | null;
}

export interface Grant {
  accountId: string;
  grantId: string;
  credits: number;
  source: string;
  priority: number;
  effectiveAt: string;
  expiresAt: string | null;
  recordedAt: string;
  /** False when the same grant had been recorded before (the answer was 200, not 201). */
  created: boolean;
}

export interface LedgerEvent {
  version: number;
  type: string;
  id: string;
  occurredAt: string;
  data: Record<string, unknown>;
}

export interface LedgerEventsPage {
  accountId: string;
  events: LedgerEvent[];
  nextAfterVersion: number;
}

/** One field the server found invalid. */
export interface FieldError {
  path: string;
  message: string;
}

/** An RFC 9457 problem body as this API sends it. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  errors?: FieldError[];
  [extension: string]: unknown;
}
