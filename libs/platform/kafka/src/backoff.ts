/** Waiting between attempts: the consumer's retries of a failed batch and restarts after a crash, and the admin's polls. */
import { kafkaLimits as L } from './limits';

/** Before retry `attempt` (1, 2, …) of a failed batch: `batchRetryBaseMs` doubled per attempt, at most `capMs` (default `retryBackoffMsMax`). */
export function batchRetryDelayMs(attempt: number, capMs: number | undefined): number {
  return Math.min(capMs ?? L.retryBackoffMsMax, L.batchRetryBaseMs * 2 ** Math.min(attempt, L.batchRetryExponentMax));
}

/** Before restart number `crashes` of a consumer kafkajs stopped for good: `crashRestartBaseMs` doubled per crash, at most `capMs`. */
export function crashRestartDelayMs(crashes: number, capMs: number | undefined): number {
  return Math.min(capMs ?? L.retryBackoffMsMax, L.crashRestartBaseMs * 2 ** Math.min(crashes, L.crashRestartExponentMax));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
