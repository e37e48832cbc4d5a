import { randomUUID } from 'node:crypto';
import { AccessApiError, AccessConfigurationError, AccessNetworkError } from './errors';
import { parseRateLimitHeaders, retryAfterMs } from './ratelimit';
import { backoffMs, retriableStatus, retryPolicy, type RetryOptions, type RetryPolicy } from './retry';
import type {
  AdmissionRequest,
  AdmissionResult,
  Admitted,
  AppliedLimit,
  Balance,
  CompletionAccepted,
  CompletionStatus,
  Dimensions,
  Grant,
  GrantRequest,
  LedgerEventsPage,
  Meters,
  Problem,
  ProgressResult,
  Rejected,
  RejectionReason,
  Usage,
} from './types';

export interface AccessClientOptions {
  /** Base URL of the admission service, e.g. `http://127.0.0.1:7100`. */
  admissionUrl: string;
  /** Base URL of the credit ledger, for `balance` and `events`. */
  ledgerUrl?: string;
  /** A bearer token with `admission:decide` (and `ledger:read` for ledger reads). */
  token: string;
  /** Per attempt (default 10 s). */
  requestTimeoutMs?: number;
  retry?: RetryOptions;
  /** Sent as `user-agent` (default `@access/client`). */
  userAgent?: string;
  /** For tests: the clock, the sleep between attempts and the jitter's randomness. */
  clock?: { nowMs(): number; sleep(ms: number): Promise<void>; random(): number };
  /** For tests and custom transports: a `fetch` (default the global one). */
  fetch?: typeof fetch;
}

/** What a job run by `run` reports when it is done: its actual meters (what the request used), and how it ended. */
export interface JobOutcome<T> {
  meters: Meters;
  /** `succeeded` unless told; a `failed` request is charged for what its meters report. */
  status?: Exclude<CompletionStatus, 'cancelled'>;
  gpuSeconds?: number;
  /** Defaults to the request's estimate dimensions. */
  dimensions?: Dimensions;
  value: T;
}

/** What a job gets: its admission, and `progress` to report the meters used so far (cumulative). */
export interface JobContext {
  admission: Admitted;
  /**
   * Reports the meters used so far; `stop` means the account cannot fund more and the job should end (its
   * completion then settles only what ran). The last meters reported are what a job that throws is charged for.
   */
  progress(meters: Meters): Promise<ProgressResult>;
}

export type RunResult<T> = { decision: 'admitted'; admission: Admitted; completion: CompletionAccepted; value: T } | Rejected;

interface Answer {
  status: number;
  headers: Headers;
  body: unknown;
  attempts: number;
}

const rejectionReasons: readonly RejectionReason[] = ['rate_limited', 'concurrency_limited', 'load_shed', 'insufficient_credits'];
const requestTimeoutMsMax = 5 * 60_000;

/**
 * A client of the admission service (and, with `ledgerUrl`, of the credit ledger's accounts, grants, balances and
 * events), over plain `fetch`.
 * Decisions are values (`admitted` or `rejected` with its reason); errors the caller must fix or cannot wait out
 * are thrown as `AccessApiError` (problem+json) or `AccessNetworkError`. Every call that is retried is
 * idempotent on the server, and an admission is retried with the same `requestId`, so a retry after a lost
 * answer returns the first decision instead of deciding twice.
 */
export class AccessClient {
  private readonly admissionUrl: string;
  private readonly ledgerUrl: string | undefined;
  private readonly token: string;
  private readonly timeoutMs: number;
  private readonly retry: RetryPolicy;
  private readonly userAgent: string;
  private readonly clock: NonNullable<AccessClientOptions['clock']>;
  private readonly fetchImpl: typeof fetch;

  constructor(options: AccessClientOptions) {
    this.admissionUrl = baseUrl(options.admissionUrl, 'admissionUrl');
    this.ledgerUrl = options.ledgerUrl === undefined ? undefined : baseUrl(options.ledgerUrl, 'ledgerUrl');
    if (typeof options.token !== 'string' || options.token.trim() === '') throw new TypeError('token is required');
    this.token = options.token.trim();
    this.timeoutMs = options.requestTimeoutMs ?? 10_000;
    if (!(this.timeoutMs > 0 && this.timeoutMs <= requestTimeoutMsMax)) throw new RangeError(`requestTimeoutMs must be in (0, ${requestTimeoutMsMax}]`);
    this.retry = retryPolicy(options.retry);
    this.userAgent = options.userAgent ?? '@access/client';
    this.clock = options.clock ?? { nowMs: () => Date.now(), sleep: (ms) => new Promise((r) => setTimeout(r, ms)), random: Math.random };
    this.fetchImpl = options.fetch ?? fetch;
  }

  /**
   * Asks whether a request may run (`POST /v1/admissions`). `admitted` or `rejected` (429 rate, concurrency or
   * load shed; 402 insufficient credits) are answers; anything else is thrown. Without a `requestId` one is made.
   */
  async admit(request: AdmissionRequest): Promise<AdmissionResult> {
    const body = { ...request, requestId: request.requestId ?? randomUUID() };
    const answer = await this.call(this.admissionUrl, 'POST', '/v1/admissions', body);
    const rateLimit = parseRateLimitHeaders((name) => answer.headers.get(name));
    const json = asRecord(answer.body);
    if (answer.status === 200 && json.decision === 'admitted') return { ...(json as unknown as Omit<Admitted, 'rateLimit'>), rateLimit };
    if ((answer.status === 429 || answer.status === 402) && json.decision === 'rejected' && rejectionReasons.includes(json.reason as RejectionReason)) {
      const retryAfter = typeof json.retryAfterMs === 'number' ? json.retryAfterMs : retryAfterMs(answer.headers.get('retry-after'), this.clock.nowMs());
      return {
        decision: 'rejected',
        status: answer.status,
        reason: json.reason as RejectionReason,
        code: String(json.code ?? ''),
        detail: String(json.detail ?? ''),
        requestId: typeof json.requestId === 'string' ? json.requestId : body.requestId,
        ...(typeof json.admissionId === 'string' ? { admissionId: json.admissionId } : {}),
        ...(typeof json.estimatedCredits === 'number' ? { estimatedCredits: json.estimatedCredits } : {}),
        ...(retryAfter === undefined ? {} : { retryAfterMs: retryAfter }),
        ...(typeof json.availableCredits === 'number' ? { availableCredits: json.availableCredits } : {}),
        limits: Array.isArray(json.limits) ? (json.limits as AppliedLimit[]) : [],
        rateLimit,
      };
    }
    throw apiError(answer);
  }

  /** Reports a request's end (`POST /v1/admissions/{id}/complete`); completing twice is a no-op answered the same. */
  async complete(admissionId: string, usage: Usage): Promise<CompletionAccepted> {
    const answer = await this.call(this.admissionUrl, 'POST', `/v1/admissions/${encodeURIComponent(admissionId)}/complete`, { admissionId, ...usage });
    if (answer.status !== 202) throw apiError(answer);
    const json = asRecord(answer.body);
    return { status: 'accepted', admissionId, duplicate: json.duplicate === true };
  }

  /**
   * Reports the meters used so far, cumulative (`POST /v1/admissions/{id}/progress`): `continue` while the hold
   * covers them, `stop` (402) when the account cannot fund more.
   */
  async progress(admissionId: string, meters: Meters): Promise<ProgressResult> {
    const answer = await this.call(this.admissionUrl, 'POST', `/v1/admissions/${encodeURIComponent(admissionId)}/progress`, { meters });
    const json = asRecord(answer.body);
    if (answer.status === 200 && json.decision === 'continue' && typeof json.heldCredits === 'number') return { decision: 'continue', heldCredits: json.heldCredits };
    if (answer.status === 402 && json.decision === 'stop') return { decision: 'stop', reason: 'insufficient_credits', detail: String(json.detail ?? '') };
    throw apiError(answer);
  }

  /**
   * Admits `request`, runs `job` if admitted, and completes the admission with the job's actual meters. When the
   * job throws, the admission is completed as `cancelled` with the meters it last reported through `progress`
   * (none: nothing is charged), and the job's error is rethrown. A rejection is returned without running the job.
   */
  async run<T>(request: AdmissionRequest, job: (context: JobContext) => Promise<JobOutcome<T>>): Promise<RunResult<T>> {
    const admission = await this.admit(request);
    if (admission.decision === 'rejected') return admission;
    const startedAtMs = this.clock.nowMs();
    let reported: Meters = {};
    const context: JobContext = {
      admission,
      progress: async (meters) => {
        reported = { ...meters };
        return this.progress(admission.admissionId, meters);
      },
    };
    const usage = (status: CompletionStatus, meters: Meters, extra: { gpuSeconds?: number; dimensions?: Dimensions } = {}): Usage => {
      const endedAtMs = Math.max(startedAtMs, this.clock.nowMs());
      return {
        requestId: admission.requestId,
        accountId: request.accountId,
        userId: request.userId,
        model: request.model,
        endpoint: request.endpoint,
        status,
        meters,
        dimensions: extra.dimensions ?? request.estimate.dimensions ?? {},
        gpuSeconds: extra.gpuSeconds ?? 0,
        durationMs: Math.round(endedAtMs - startedAtMs),
        startedAt: new Date(startedAtMs).toISOString(),
        endedAt: new Date(endedAtMs).toISOString(),
      };
    };
    let outcome: JobOutcome<T>;
    try {
      outcome = await job(context);
    } catch (error) {
      try {
        await this.complete(admission.admissionId, usage('cancelled', reported));
      } catch {
        // The job's error is the one the caller needs; an uncompleted admission's hold expires by itself.
      }
      throw error;
    }
    const completion = await this.complete(
      admission.admissionId,
      usage(outcome.status ?? 'succeeded', outcome.meters, {
        ...(outcome.gpuSeconds === undefined ? {} : { gpuSeconds: outcome.gpuSeconds }),
        ...(outcome.dimensions === undefined ? {} : { dimensions: outcome.dimensions }),
      }),
    );
    return { decision: 'admitted', admission, completion, value: outcome.value };
  }

  /**
   * Opens the account on `plan`, or changes its plan (`PUT /v1/accounts/{id}`, scope `ledger:write`; idempotent).
   * Returns the balance after it, and whether the account was opened by this call.
   */
  async openAccount(accountId: string, plan: string): Promise<Balance & { created: boolean }> {
    const answer = await this.call(this.ledger(), 'PUT', `/v1/accounts/${encodeURIComponent(accountId)}`, { plan });
    if (answer.status !== 200 && answer.status !== 201) throw apiError(answer);
    return { ...(answer.body as Balance), created: answer.status === 201 };
  }

  /** Grants credits (`POST /v1/accounts/{id}/grants`, scope `ledger:write`); the same `grantId` and body again is answered with the first grant. */
  async grant(accountId: string, grant: GrantRequest): Promise<Grant> {
    const answer = await this.call(this.ledger(), 'POST', `/v1/accounts/${encodeURIComponent(accountId)}/grants`, grant);
    if (answer.status !== 200 && answer.status !== 201) throw apiError(answer);
    return { ...(answer.body as Omit<Grant, 'created'>), created: answer.status === 201 };
  }

  /** The account's balance from the ledger (`GET /v1/accounts/{id}/balance`, scope `ledger:read`). */
  async balance(accountId: string): Promise<Balance> {
    const answer = await this.call(this.ledger(), 'GET', `/v1/accounts/${encodeURIComponent(accountId)}/balance`);
    if (answer.status !== 200) throw apiError(answer);
    return answer.body as Balance;
  }

  /** One page of the account's ledger events after `afterVersion` (`GET /v1/accounts/{id}/events`). */
  async events(accountId: string, page: { afterVersion?: number; limit?: number } = {}): Promise<LedgerEventsPage> {
    const query = new URLSearchParams();
    if (page.afterVersion !== undefined) query.set('afterVersion', String(page.afterVersion));
    if (page.limit !== undefined) query.set('limit', String(page.limit));
    const suffix = query.size > 0 ? `?${query.toString()}` : '';
    const answer = await this.call(this.ledger(), 'GET', `/v1/accounts/${encodeURIComponent(accountId)}/events${suffix}`);
    if (answer.status !== 200) throw apiError(answer);
    return answer.body as LedgerEventsPage;
  }

  /** Every ledger event of the account after `afterVersion`, page by page. */
  async *allEvents(accountId: string, options: { afterVersion?: number; pageSize?: number } = {}): AsyncGenerator<LedgerEventsPage['events'][number]> {
    let after = options.afterVersion ?? 0;
    for (;;) {
      const page = await this.events(accountId, { afterVersion: after, ...(options.pageSize === undefined ? {} : { limit: options.pageSize }) });
      yield* page.events;
      if (page.events.length === 0 || page.nextAfterVersion <= after) return;
      after = page.nextAfterVersion;
    }
  }

  private ledger(): string {
    if (this.ledgerUrl === undefined) throw new AccessConfigurationError('ledger reads need the ledgerUrl option');
    return this.ledgerUrl;
  }

  /** One HTTP call with the retry policy: network errors and 502/503/504 are retried, honouring `Retry-After`. */
  private async call(base: string, method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown): Promise<Answer> {
    const startMs = this.clock.nowMs();
    const payload = body === undefined ? undefined : JSON.stringify(body);
    for (let attempt = 1; ; attempt++) {
      let failure: { kind: 'network'; error: unknown } | { kind: 'status'; answer: Answer };
      let hintMs: number | undefined;
      try {
        const response = await this.fetchImpl(`${base}${path}`, {
          method,
          headers: {
            authorization: `Bearer ${this.token}`,
            accept: 'application/json, application/problem+json',
            'user-agent': this.userAgent,
            ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
          },
          ...(payload === undefined ? {} : { body: payload }),
          signal: AbortSignal.timeout(this.timeoutMs),
        });
        const answer: Answer = { status: response.status, headers: response.headers, body: await readBody(response), attempts: attempt };
        if (!retriableStatus(answer.status)) return answer;
        failure = { kind: 'status', answer };
        hintMs = retryAfterMs(response.headers.get('retry-after'), this.clock.nowMs());
      } catch (error) {
        failure = { kind: 'network', error };
      }
      const waitMs = backoffMs(this.retry, attempt, this.clock.random(), hintMs);
      const elapsedMs = this.clock.nowMs() - startMs;
      if (attempt >= this.retry.attemptsMax || elapsedMs + waitMs > this.retry.totalMsMax) {
        if (failure.kind === 'status') return failure.answer;
        throw new AccessNetworkError(`${method} ${base}${path} failed after ${attempt} attempt(s): ${describe(failure.error)}`, attempt, { cause: failure.error });
      }
      await this.clock.sleep(waitMs);
    }
  }
}

function baseUrl(value: string, name: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new TypeError(`${name} must be an absolute http(s) URL, got ${JSON.stringify(value)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`${name} must be an http(s) URL`);
  return url.href.replace(/\/+$/, '');
}

async function readBody(response: Response): Promise<unknown> {
  const text = await response.text();
  if (text === '') return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

/** An error answer as a typed error: the problem+json body when there is one, else a synthetic problem. */
function apiError(answer: Answer): AccessApiError {
  const json = asRecord(answer.body);
  const isProblem = typeof json.code === 'string' && typeof json.status === 'number';
  const problem: Problem = isProblem
    ? { ...json, type: String(json.type ?? 'about:blank'), title: String(json.title ?? ''), status: answer.status, detail: String(json.detail ?? ''), code: json.code as string, ...(Array.isArray(json.errors) ? { errors: json.errors as Problem['errors'] } : {}) }
    : {
        type: 'about:blank',
        title: `HTTP ${answer.status}`,
        status: answer.status,
        detail: typeof answer.body === 'string' ? answer.body.slice(0, 500) : `unexpected answer ${JSON.stringify(answer.body)?.slice(0, 500)}`,
        code: `HTTP.${answer.status}`,
      };
  return new AccessApiError(problem, answer.attempts);
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? ` (${error.cause.message})` : '';
    return `${error.name}: ${error.message}${cause}`;
  }
  return String(error);
}
