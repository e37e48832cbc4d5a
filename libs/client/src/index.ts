export { AccessClient, type AccessClientOptions, type JobContext, type JobOutcome, type RunResult } from './client';
export { AccessApiError, AccessConfigurationError, AccessNetworkError } from './errors';
export { parseRateLimitHeaders, retryAfterMs } from './ratelimit';
export { defaultRetry, type RetryOptions } from './retry';
export type * from './types';
