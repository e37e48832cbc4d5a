/**
 * Everything a run depends on besides its seed. The fault rates are per opportunity (per send, per transaction,
 * per insert, per scheduling tick), chosen so that every fault class happens many times in a CI-sized run.
 */
export interface FaultRates {
  /** A producer's send fails before the broker stored it (the caller hears an error). */
  readonly sendFails: number;
  /** The broker stored the message but the ack is lost (the producer hears an error). */
  readonly ackLost: number;
  /** A producer retry stores the message twice (same event id, two offsets). */
  readonly sendDuplicated: number;
  /** A ledger transaction aborts (serialization failure, connection reset) before it commits. */
  readonly txAborts: number;
  /** A ledger commit times out on the client after the server committed it. */
  readonly txTimesOutAfterCommit: number;
  /** Per consumer batch: the consuming process crashes (after its Postgres commit, before its Kafka commit). */
  readonly consumerCrash: number;
  /** Per consumer batch: the group rebalances while the batch is in flight. */
  readonly rebalance: number;
  /** The outbox publisher crashes after sending and before marking the rows sent (they are sent again). */
  readonly outboxResend: number;
  /** A ClickHouse INSERT fails and stores nothing (connection reset). */
  readonly insertFails: number;
  /** A ClickHouse INSERT stores a prefix of its rows (the first blocks), then fails. */
  readonly insertPartial: number;
  /** Per ingest batch: ClickHouse begins shutting down (answers UNKNOWN_TABLE for a while). */
  readonly clickhouseShutdown: number;
  /** Per completion: the caller sends it again later, through the service (a retry). */
  readonly completeTwice: number;
  /** Per completion: a same-content copy under a new event id reaches the usage topic (a caller speaking Kafka). */
  readonly completionCopy: number;
  /** Per admitted request: the completion comes at once (it may reach the ledger before its decision). */
  readonly completeEarly: number;
  /** Per admitted request: the completion comes after the reservation expired. */
  readonly completeLate: number;
  /** Per admitted request: no completion ever. */
  readonly neverComplete: number;
  /** Per request: the caller sends the same request again at once (same requestId). */
  readonly admitTwice: number;
}

/**
 * Historical defects, re-introduced one at a time to prove the simulator finds them. Each swaps a real function for
 * its historical version at the point where the simulation calls it (defects.ts); production code is untouched.
 */
export interface Defects {
  /** usage-ingest dead-lettered rows when ClickHouse answered UNKNOWN_TABLE while shutting down (fixed in 28ba46f). */
  readonly ingestDeadLettersOnShutdown: boolean;
  /** A late same-content completion copy was priced net of allowance after its decision arrived (fixed in b0775a0). */
  readonly lateCopyPricedNet: boolean;
}

/** Deliberate breakage of the simulated infrastructure, one per invariant, for the tests that prove each check fires. */
export type Sabotage =
  | 'none'
  | 'store-loses-event'
  | 'settle-twice'
  | 'ingest-ignores-watermark'
  | 'admission-frees-slot-early'
  | 'hold-released-twice'
  | 'publish-uncommitted-balance';

export interface SimOptions {
  readonly seed: number;
  /** Stop after this many simulated events (scheduler steps), then drain. */
  readonly events: number;
  readonly startMs: number;
  readonly partitions: number;
  readonly accounts: number;
  /** Mean time between new requests (virtual ms). */
  readonly requestMeanMs: number;
  /** Reservation timeout of every plan in the simulation (shorter than production so expiries happen often). */
  readonly reservationTimeoutMs: number;
  readonly faults: FaultRates;
  readonly defects: Defects;
  readonly sabotage: Sabotage;
  /**
   * What "one usage row" is checked per: 'admission' is the contract (a second completion of an admission, under a
   * new event id, never adds a row); 'event' is what usage-ingest guarantees today (one row per completion event).
   */
  readonly usageRowsPer: 'admission' | 'event';
  /** Record every step's label (for --trace and the replay test). */
  readonly trace: boolean;
}

export const defaultFaults: FaultRates = {
  sendFails: 0.01,
  ackLost: 0.01,
  sendDuplicated: 0.02,
  txAborts: 0.03,
  txTimesOutAfterCommit: 0.02,
  consumerCrash: 0.003,
  rebalance: 0.004,
  outboxResend: 0.03,
  insertFails: 0.01,
  insertPartial: 0.01,
  clickhouseShutdown: 0.003,
  completeTwice: 0.05,
  completionCopy: 0.1,
  completeEarly: 0.2,
  completeLate: 0.03,
  neverComplete: 0.02,
  admitTwice: 0.03,
};

export const noFaults: FaultRates = Object.fromEntries(Object.keys(defaultFaults).map((k) => [k, 0])) as unknown as FaultRates;

export function simOptions(seed: number, overrides: Partial<SimOptions> = {}): SimOptions {
  return {
    seed,
    events: 50_000,
    startMs: Date.parse('2026-11-25T10:00:00.000Z'),
    partitions: 4,
    accounts: 24,
    requestMeanMs: 40,
    reservationTimeoutMs: 20_000,
    faults: defaultFaults,
    defects: { ingestDeadLettersOnShutdown: false, lateCopyPricedNet: false },
    sabotage: 'none',
    usageRowsPer: 'admission',
    trace: false,
    ...overrides,
  };
}
