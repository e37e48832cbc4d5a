/**
 * The HTTP requests of bench/admission (b), (c) and (d): codex-1 requests for 10,000 enterprise users (1,000 accounts ×
 * 10 users), admitted from the allowance, each with a new requestId.
 */
export const ACCOUNTS = 1_000;
export const USERS = 10;
let sequence = 0;

/** The next request body: accounts in turn, then users, so every account is asked equally often. */
export function nextBody(): string {
  const n = sequence++;
  return JSON.stringify({
    requestId: `bench-${process.pid}-${n}`,
    accountId: `bench-acct-${n % ACCOUNTS}`,
    userId: `u-${Math.floor(n / ACCOUNTS) % USERS}`,
    model: 'codex-1',
    endpoint: 'code.complete',
    priority: 'standard',
    estimate: { meters: { input_tokens: 4_000, output_tokens: 1_500 }, dimensions: {} },
  });
}
