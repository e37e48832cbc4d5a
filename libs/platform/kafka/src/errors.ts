/**
 * Handlers tell the consumer what went wrong with a type, not a string: a retriable failure (the store is down,
 * a lock timed out) is retried with backoff and never dead-lettered; a non-retriable failure of one message
 * (it can never succeed) sends that message to the dead-letter topic and the consumer moves on.
 */
export class RetriableError extends Error {
  override readonly name: string = 'RetriableError';
  readonly retriable = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export class NonRetriableError extends Error {
  override readonly name: string = 'NonRetriableError';
  readonly retriable = false;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Errors that say nothing are treated as retriable: losing a message is worse than retrying it. */
export function isRetriable(error: unknown): boolean {
  if (error instanceof NonRetriableError) return false;
  if (typeof error === 'object' && error !== null && 'retriable' in error) return (error as { retriable: unknown }).retriable !== false;
  return true;
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
