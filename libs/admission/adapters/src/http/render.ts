import type { AdmitOutcome, CompleteOutcome, DecisionAnswer } from '@access/admission-application';
import { LIMIT_NAMES, REQUESTS_LIMIT_WINDOW_MS, type AdmissionError } from '@access/admission-domain';
import type { AppliedLimit } from '@access/contracts';
import { PROBLEM_CONTENT_TYPE, problem, type Problem } from '@access/platform-http';

/** One HTTP answer: status, headers (content-type included) and a JSON body. */
export interface HttpAnswer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: object;
}

const JSON_TYPE = 'application/json; charset=utf-8';
const PROBLEM_TYPE = PROBLEM_CONTENT_TYPE;
const WINDOW_S = REQUESTS_LIMIT_WINDOW_MS / 1000;

/**
 * The answer to an admission decision, first or replayed: made only of DecisionAnswer's fields, which is all that
 * idempotency keeps, so a replay is byte for byte the first answer, headers included (they are derived from the
 * decision's own `limits`).
 */
export function renderDecision(event: DecisionAnswer): HttpAnswer {
  const headers = rateLimitHeaders(event.limits);
  if (event.decision === 'admitted') {
    headers['content-type'] = JSON_TYPE;
    return {
      status: 200,
      headers,
      body: {
        decision: 'admitted',
        admissionId: event.admissionId,
        requestId: event.requestId,
        estimatedCredits: event.estimatedCredits,
        fundedBy: event.fundedBy,
        reservationExpiresAt: event.reservationExpiresAt,
        priceBookVersion: event.priceBookVersion,
        limits: event.limits,
        decidedBy: event.decidedBy,
        heldCredits: event.heldCredits,
        plan: event.plan,
        multipliers: event.multipliers,
        decidedAt: event.decidedAt,
      },
    };
  }
  headers['content-type'] = PROBLEM_TYPE;
  const common = {
    decision: 'rejected',
    admissionId: event.admissionId,
    requestId: event.requestId,
    decidedBy: event.decidedBy,
    plan: event.plan,
    estimatedCredits: event.estimatedCredits,
    limits: event.limits,
    multipliers: event.multipliers,
    decidedAt: event.decidedAt,
  };
  const reason = event.reason ?? 'rate_limited';
  switch (reason) {
    case 'insufficient_credits':
      return {
        status: 402,
        headers,
        body: problem(402, 'ADMISSION.INSUFFICIENT_CREDITS', `This request is estimated at ${event.estimatedCredits} credits and the account has ${event.availableCredits ?? 0} available beyond its included allowance.`, {
          ...common,
          reason,
          availableCredits: event.availableCredits,
        }),
      };
    case 'rate_limited':
    case 'concurrency_limited':
    case 'load_shed': {
      const retryAfterMs = event.retryAfterMs ?? 1_000;
      headers['retry-after'] = String(retryAfterSeconds(retryAfterMs));
      return {
        status: 429,
        headers,
        body: problem(429, `ADMISSION.${reason.toUpperCase()}`, rejectionDetail(reason, retryAfterMs), { ...common, reason, retryAfterMs }),
      };
    }
    default: {
      const _exhaustive: never = reason;
      return _exhaustive;
    }
  }
}

function rejectionDetail(reason: 'rate_limited' | 'concurrency_limited' | 'load_shed', retryAfterMs: number): string {
  switch (reason) {
    case 'rate_limited':
      return `A protective rate limit is reached (see limits); the same request is admitted in ${retryAfterMs} ms if nothing else changes.`;
    case 'concurrency_limited':
      return `The user has as many requests running as the plan allows; a slot frees up in at most ${retryAfterMs} ms.`;
    case 'load_shed':
      return `This model is shedding load for this plan and priority; retry in about ${retryAfterMs} ms.`;
    default: {
      const _exhaustive: never = reason;
      return _exhaustive;
    }
  }
}

/**
 * No replica could decide for the account within the request's deadline: its partition is moving between replicas
 * (an owner died or left and the group has not handed the partition over yet). Nothing was decided.
 */
export function ownerUnavailable(): HttpAnswer {
  return problemAnswer(
    problem(503, 'ADMISSION.OWNER_UNAVAILABLE', "No admission replica owns this account's partition right now (it is being handed over); retry."),
    { 'retry-after': '1' },
  );
}

/** Retry-After is whole seconds; rounding up keeps "retrying then succeeds". */
export function retryAfterSeconds(retryAfterMs: number): number {
  return Math.max(1, Math.ceil(retryAfterMs / 1000));
}

/**
 * IETF draft-ietf-httpapi-ratelimit-headers (structured fields: `RateLimit-Policy: "requests";q=60;w=60`
 * and `RateLimit: "requests";r=59;t=1`) plus OpenAI-style `x-ratelimit-*-requests`, all for the per-user
 * requests-per-minute limit (the one a client paces itself by; the others are in the body's `limits`).
 */
export function rateLimitHeaders(limits: readonly AppliedLimit[]): Record<string, string> {
  const requests = limits.find((l) => l.name === LIMIT_NAMES.userRequestsPerMinute);
  if (requests === undefined) return {};
  const resetS = Math.ceil(requests.resetMs / 1000);
  return {
    'ratelimit-policy': `"requests";q=${requests.limit};w=${WINDOW_S}`,
    ratelimit: `"requests";r=${requests.remaining};t=${resetS}`,
    'x-ratelimit-limit-requests': String(requests.limit),
    'x-ratelimit-remaining-requests': String(requests.remaining),
    'x-ratelimit-reset-requests': durationText(requests.resetMs),
  };
}

/** `250ms`, `1s`, `1.5s`, `1m30s`, `6m0s`: the x-ratelimit-reset-* duration format. */
export function durationText(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.ceil(ms))}ms`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms - minutes * 60_000)) / 1000;
  const secondsText = `${Number.isInteger(seconds) ? seconds : seconds.toFixed(3).replace(/0+$/, '')}s`;
  return minutes > 0 ? `${minutes}m${secondsText}` : secondsText;
}

function problemAnswer(body: Problem, headers: Record<string, string> = {}): HttpAnswer {
  return { status: body.status, headers: { ...headers, 'content-type': PROBLEM_TYPE }, body };
}

/** Invalid input the domain found (the body was well-formed): all 400 except what is the server's own state. */
export function renderAdmissionError(error: AdmissionError): HttpAnswer {
  const errors = error.path === '' ? undefined : [{ path: error.path, message: error.message }];
  switch (error.code) {
    case 'ADMISSION.UNKNOWN_MODEL':
    case 'ADMISSION.INVALID_ESTIMATE':
    case 'ADMISSION.PRIORITY_NOT_ALLOWED':
      return problemAnswer(problem(400, error.code, error.message, { errors }));
    case 'ADMISSION.UNKNOWN_ACCOUNT':
      return problemAnswer(problem(404, error.code, error.message, { errors }));
    case 'ADMISSION.UNKNOWN_PLAN':
      // The ledger knows a plan this instance's plans.yaml does not: a deployment lag, not the caller's fault.
      return problemAnswer(problem(503, error.code, error.message), { 'retry-after': '60' });
    case 'ADMISSION.CAPACITY_EXHAUSTED':
      return problemAnswer(problem(503, error.code, error.message), { 'retry-after': '1' });
    case 'ADMISSION.DUPLICATE_ADMISSION_ID':
      return problemAnswer(problem(500, error.code, error.message));
    default: {
      const _exhaustive: never = error.code;
      return _exhaustive;
    }
  }
}

export function renderAdmitOutcome(outcome: AdmitOutcome): HttpAnswer {
  switch (outcome.kind) {
    case 'decided':
      return renderDecision(outcome.event);
    case 'invalid':
      return renderAdmissionError(outcome.error);
    case 'conflict':
      return problemAnswer(
        problem(409, 'ADMISSION.REQUEST_ID_CONFLICT', `requestId ${outcome.requestId} was already decided with a different body; use a new requestId for a different request.`, {
          requestId: outcome.requestId,
          admissionId: outcome.admissionId,
        }),
      );
    case 'not_ready':
      return problemAnswer(problem(503, 'ADMISSION.NOT_READY', 'Admission is still rebuilding its state after a start.'), { 'retry-after': '1' });
    case 'unavailable':
      return problemAnswer(problem(503, 'ADMISSION.UNAVAILABLE', outcome.detail), { 'retry-after': '1' });
    case 'not_owner':
      return ownerUnavailable();
    default: {
      const _exhaustive: never = outcome;
      return _exhaustive;
    }
  }
}

export function renderCompleteOutcome(admissionId: string, outcome: CompleteOutcome): HttpAnswer {
  switch (outcome.kind) {
    case 'accepted':
      return { status: 202, headers: { 'content-type': JSON_TYPE }, body: { status: 'accepted', admissionId, duplicate: outcome.duplicate } };
    case 'invalid':
      return problemAnswer(problem(400, 'ADMISSION.INVALID_COMPLETION', outcome.message, { errors: [{ path: outcome.path, message: outcome.message }] }));
    case 'not_ready':
      return problemAnswer(problem(503, 'ADMISSION.NOT_READY', 'Admission is still rebuilding its state after a start.'), { 'retry-after': '1' });
    case 'unavailable':
      return problemAnswer(problem(503, 'ADMISSION.UNAVAILABLE', outcome.detail), { 'retry-after': '1' });
    case 'not_owner':
      return ownerUnavailable();
    default: {
      const _exhaustive: never = outcome;
      return _exhaustive;
    }
  }
}
