/**
 * Two defects this project had, kept here as their historical code so the simulator can be shown to find them.
 * The simulation calls the real function unless the run's `defects` switch asks for the historical one; nothing
 * in production reads these switches.
 */
import type { CreditAccountCommand, CreditAccountState } from '@access/credit-ledger-domain';
import { completionCommand, type Intake } from '@access/credit-ledger-application';
import { clickhouseErrorCode, isRetriableClickhouseError } from '@access/platform-clickhouse';
import { isRetriableStoreError } from '@access/usage-adapters';
import type { Defects } from './options';

type CompletionCommand = typeof completionCommand;

/**
 * completionCommand before b0775a0: a same-content copy of a completion that was charged in full before its decision
 * (and allowance part) arrived was priced net of the allowance, so it looked like a second completion at another
 * cost: a conflict, dead-lettered.
 */
export const completionCommandBeforeB0775a0: CompletionCommand = (
  intake: Extract<Intake, { kind: 'complete' }>,
  allowanceCredits: number | undefined,
  now: string,
): ((state: CreditAccountState) => CreditAccountCommand | null) => {
  const chargeCredits = Math.max(0, intake.costCredits - (allowanceCredits ?? 0));
  return (state) => {
    const hold = state.reservations.get(intake.admissionId);
    if (chargeCredits === 0 && intake.status !== 'succeeded' && hold !== undefined && hold.requestId === intake.requestId) {
      return { type: 'void', data: { admissionId: intake.admissionId, reason: intake.status }, metadata: { now } };
    }
    if (chargeCredits === 0 && allowanceCredits !== undefined && hold === undefined) return null;
    return { type: 'settle', data: { admissionId: intake.admissionId, requestId: intake.requestId, actualCredits: chargeCredits }, metadata: { now } };
  };
};

/**
 * isRetriableStoreError before 28ba46f: only transport errors, overload and a still-running INSERT were retried;
 * every other ClickHouse error dead-lettered the rows, including UNKNOWN_TABLE (code 60), which a ClickHouse
 * that is shutting down answers for tables it has already unloaded.
 */
export function isRetriableStoreErrorBefore28ba46f(error: unknown): boolean {
  return isRetriableClickhouseError(error) || clickhouseErrorCode(error) === 216;
}

export function completionCommandFor(defects: Defects): CompletionCommand {
  return defects.lateCopyPricedNet ? completionCommandBeforeB0775a0 : completionCommand;
}

export function storeErrorClassifierFor(defects: Defects): (error: unknown) => boolean {
  return defects.ingestDeadLettersOnShutdown ? isRetriableStoreErrorBefore28ba46f : isRetriableStoreError;
}
