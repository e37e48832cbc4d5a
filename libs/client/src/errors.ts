import type { FieldError, Problem } from './types';

/**
 * The server answered with an error that is not an admission outcome: invalid input (400, with `errors` naming
 * each field), authentication (401, 403), not found (404), a conflict (409: the same id with another body), or a
 * server error that retrying did not cure. Carries the problem+json body's stable `code`.
 */
export class AccessApiError extends Error {
  override readonly name = 'AccessApiError';
  readonly status: number;
  /** Stable code such as `ADMISSION.INVALID_REQUEST`; `HTTP.<status>` when the body was not problem+json. */
  readonly code: string;
  readonly errors: FieldError[];
  /** The whole problem body (with its extension fields), or a synthetic one when the body was not problem+json. */
  readonly problem: Problem;
  /** How many attempts were made (more than 1 when a retriable failure repeated). */
  readonly attempts: number;

  constructor(problem: Problem, attempts = 1) {
    super(`${problem.status} ${problem.code}: ${problem.detail}`);
    this.status = problem.status;
    this.code = problem.code;
    this.errors = problem.errors ?? [];
    this.problem = problem;
    this.attempts = attempts;
  }
}

/** The service could not be reached (connection refused or reset, timeout) within the retry budget. */
export class AccessNetworkError extends Error {
  override readonly name = 'AccessNetworkError';
  constructor(
    message: string,
    readonly attempts: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** `ledgerUrl` was not given, so ledger reads are not available. */
export class AccessConfigurationError extends Error {
  override readonly name = 'AccessConfigurationError';
}
