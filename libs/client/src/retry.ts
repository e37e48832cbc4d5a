/**
 * How the client retries: only what is safe to repeat (every call it retries is idempotent on the server: an
 * admission by its `requestId`, a completion by its `admissionId`, reads), only on failures that may pass
 * (network errors, timeouts, 502/503/504), bounded in attempts and in total time, with full-jitter exponential
 * backoff so that many clients do not retry in step, and never sooner than the server's `Retry-After`.
 */
export interface RetryOptions {
  /** Attempts in all, the first included (default 4). */
  attemptsMax?: number;
  /** No retry starts later than this after the first attempt (default 30 s). */
  totalMsMax?: number;
  /** The first backoff's ceiling (default 200 ms); it doubles per attempt. */
  baseDelayMs?: number;
  /** The largest backoff ceiling (default 5 s). A `Retry-After` may ask for longer, within `totalMsMax`. */
  maxDelayMs?: number;
}

export type RetryPolicy = Required<RetryOptions>;

export const defaultRetry: RetryPolicy = { attemptsMax: 4, totalMsMax: 30_000, baseDelayMs: 200, maxDelayMs: 5_000 };

/** Ceilings on what a caller may configure, so that a typo cannot make a client retry for hours. */
export const retryLimits = { attemptsMax: 20, totalMsMax: 10 * 60_000 } as const;

export function retryPolicy(options: RetryOptions | undefined): RetryPolicy {
  const policy = { ...defaultRetry, ...options };
  const check = (name: keyof RetryPolicy, min: number, max: number) => {
    const value = policy[name];
    if (!Number.isFinite(value) || value < min || value > max) throw new RangeError(`retry.${name} must be between ${min} and ${max}, got ${value}`);
  };
  check('attemptsMax', 1, retryLimits.attemptsMax);
  check('totalMsMax', 0, retryLimits.totalMsMax);
  check('baseDelayMs', 0, retryLimits.totalMsMax);
  check('maxDelayMs', 0, retryLimits.totalMsMax);
  return policy;
}

/** Statuses worth another attempt: the server or a proxy in front of it says "not now". */
export function retriableStatus(status: number): boolean {
  return status === 502 || status === 503 || status === 504;
}

/**
 * The wait before attempt `attempt + 1` (attempt counts from 1): a random share of the exponential ceiling
 * ("full jitter"), and at least the server's `Retry-After` when it sent one.
 */
export function backoffMs(policy: RetryPolicy, attempt: number, random: number, retryAfterMs: number | undefined): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  const jittered = Math.floor(random * ceiling);
  return retryAfterMs === undefined ? jittered : Math.max(retryAfterMs, jittered);
}
