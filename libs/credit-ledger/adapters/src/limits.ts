/**
 * Named maxima of the ledger's store, consumers and jobs (TIGER_STYLE: limits on everything). Each can be
 * overridden from the environment by the app; `validateStoreLimits` rejects a value outside its range at boot.
 */
export type LedgerStoreLimits = {
  /** Account states kept in memory (least recently used evicted first). */
  readonly cachedAccountsMax: number;
  /** Times one batch is decided again after another writer appended to one of its accounts first. */
  readonly appendRetriesMax: number;
  /** Commands decided and written in one Postgres transaction; a larger Kafka batch is split. */
  readonly batchCommandsMax: number;
  /** Outbox rows (each one committed batch) read, published and deleted per publisher round. */
  readonly outboxBatchMax: number;
  /** Wait between publisher rounds when the outbox was empty and nothing woke the publisher. */
  readonly outboxIdleWaitMs: number;
  /** Back-off of the publisher after Kafka or Postgres failed (doubling from 100 ms up to this). */
  readonly outboxRetryWaitMsMax: number;
  /** Accounts whose due expiries one expiry round records. */
  readonly expiryAccountsPerRoundMax: number;
  /** Accounts granted their plan period per scheduler round. */
  readonly planGrantAccountsPerRoundMax: number;
  /** `GET /events` returns at most this many events per page. */
  readonly eventsPageMax: number;
  /** Accounts loaded together by verify and rebuild. */
  readonly operationsAccountsPerChunkMax: number;
};

export const defaultStoreLimits: LedgerStoreLimits = {
  cachedAccountsMax: 100_000,
  appendRetriesMax: 8,
  batchCommandsMax: 10_000,
  outboxBatchMax: 16,
  outboxIdleWaitMs: 200,
  outboxRetryWaitMsMax: 5_000,
  expiryAccountsPerRoundMax: 1_000,
  planGrantAccountsPerRoundMax: 1_000,
  eventsPageMax: 1_000,
  operationsAccountsPerChunkMax: 500,
};

const ranges: { readonly [K in keyof LedgerStoreLimits]: readonly [number, number] } = {
  cachedAccountsMax: [1, 10_000_000],
  appendRetriesMax: [0, 100],
  batchCommandsMax: [1, 100_000],
  outboxBatchMax: [1, 1_000],
  outboxIdleWaitMs: [1, 60_000],
  outboxRetryWaitMsMax: [100, 600_000],
  expiryAccountsPerRoundMax: [1, 100_000],
  planGrantAccountsPerRoundMax: [1, 100_000],
  eventsPageMax: [1, 10_000],
  operationsAccountsPerChunkMax: [1, 100_000],
};

/** The defaults with `overrides` applied, or every problem found (a boot failure naming each limit). */
export function validateStoreLimits(
  overrides: Partial<LedgerStoreLimits> = {},
): { ok: true; limits: LedgerStoreLimits } | { ok: false; errors: string[] } {
  const limits = { ...defaultStoreLimits, ...overrides };
  const errors: string[] = [];
  for (const [name, [min, max]] of Object.entries(ranges) as [keyof LedgerStoreLimits, readonly [number, number]][]) {
    const value = limits[name];
    if (!Number.isSafeInteger(value) || value < min || value > max) errors.push(`${name} must be a whole number in ${min}..${max} (got ${value})`);
  }
  return errors.length === 0 ? { ok: true, limits } : { ok: false, errors };
}
