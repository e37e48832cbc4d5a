/**
 * A completion's row says what the ledger charged and what the allowance covered: the ledger charges the request's
 * cost less its decision's allowance part, so the allowance part is read from `admission_decisions` before inserting.
 * A decision not stored yet may still be on its way (the decisions consumer runs beside this one): the batch waits
 * (is retried) until the decisions consumer has committed every decision published up to the admission's time, and
 * only then takes a missing decision as none (the ledger charges such a completion in full, too).
 */
import { uuidv7Schema, uuidv7TimeMs } from '@access/contracts';
import { RetriableError, errorMessage } from '@access/platform-kafka';
import { withAllowance, type IngestLimits, type UsageRow } from '@access/usage-domain';
import type { DecisionsProgress, IngestEvent, UsageStorePort } from './ports';
import type { Kept } from './table-ingest';

export interface AllowanceDeps {
  store: UsageStorePort;
  limits: IngestLimits;
  decisions?: DecisionsProgress;
  now: () => number;
  /** Runs a store request, turning its failure into the consumer's retriable or non-retriable error. */
  guard: <T>(run: () => Promise<T>) => Promise<T>;
}

/**
 * Completions' rows with their cost split as the ledger split it (`withAllowance`), from the allowance parts of
 * their decisions in `admission_decisions`. Throws a retriable error while a missing decision may still arrive.
 */
export async function withAllowances<E extends IngestEvent>(completions: readonly Kept<E>[], deps: AllowanceDeps): Promise<Kept<E>[]> {
  const { store, limits } = deps;
  const admissionOf = (k: Kept<E>) => (k.row as UsageRow).admission_id;
  // Only a UUIDv7 admissionId can name a decision (the decision's schema requires one); its time is when it was made.
  const decidable = completions.filter((k) => uuidv7Schema.safeParse(admissionOf(k)).success);
  const lookUp = async (of: Kept<E>[]): Promise<Map<string, number>> => {
    if (of.length === 0) return new Map<string, number>();
    const times = of.map((k) => uuidv7TimeMs(admissionOf(k)));
    return deps.guard(() =>
      store.decisionAllowances(
        {
          accountIds: of.map((k) => k.accountId), admissionIds: of.map(admissionOf),
          timeMinMs: Math.min(...times), timeMaxMs: Math.max(...times), timeMarginMs: limits.decisionTimeMarginMs,
        },
        limits.lookupIdsPerQueryMax,
      ),
    );
  };
  const allowances = await lookUp(decidable);
  const missing = decidable.filter((k) => !allowances.has(admissionOf(k)));
  if (missing.length > 0) {
    if (await decisionsMayBeBehind(missing.map((k) => Math.max(uuidv7TimeMs(admissionOf(k)), k.consumed.timestampMs)), deps)) {
      throw new RetriableError(`waiting for the decisions of ${missing.length} completions (e.g. admission ${admissionOf(missing[0]!)}) to reach ClickHouse`);
    }
    // The decisions consumer commits only after its rows are stored, and it is now past these decisions: a decision
    // stored between the first lookup and that check is found now; one still missing does not exist.
    for (const [id, credits] of await lookUp(missing)) allowances.set(id, credits);
  }
  return completions.map((k) => ({ ...k, row: withAllowance(k.row as UsageRow, allowances.get(admissionOf(k)) ?? 0) }));
}

/**
 * True while the decisions consumer may not yet have stored the decisions of these completions: it has not
 * committed past the decisions published up to the latest of `decidedByMs` (per completion: the later of its
 * admission's time and its own Kafka timestamp; a decision is published right after admission decides, within
 * `decisionPublishLatencyMsMax`, and before its request can complete), capped at now (a time in the future is no
 * reason to wait for ever). Without a decisions consumer there is nothing to wait for.
 */
async function decisionsMayBeBehind(decidedByMs: number[], deps: AllowanceDeps): Promise<boolean> {
  if (deps.decisions === undefined || decidedByMs.length === 0) return false;
  const publishedByMs = Math.min(Math.max(...decidedByMs), deps.now()) + deps.limits.decisionPublishLatencyMsMax;
  try {
    return await deps.decisions.mayBeBehind(publishedByMs);
  } catch (error) {
    throw new RetriableError(`reading the decisions consumer's progress: ${errorMessage(error)}`, { cause: error });
  }
}
