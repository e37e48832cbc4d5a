/**
 * The commands of a consumed batch: what each decision and completion becomes (`intakeOf` decided that), in
 * message order, and the allowance parts the batch records. A completion is charged net of its decision's
 * allowance part, and a decision seen for the first time may have to give back the allowance part of a
 * completion that overtook it: both depend on the allowance parts recorded before this batch, which the caller
 * reads once the batch holds its accounts (every earlier batch on them committed) and hands to
 * `useRecordedAllowances` before the commands are decided.
 */
import type { AccountCommand, AllowanceRecord } from './commands';
import { completionCommand, lateAllowanceRefund, reserveCommand, type Intake } from './intake';

export interface ConsumedIntake<Ref> {
  readonly intake: Intake;
  /** The consumed event's id. */
  readonly causationId: string;
  /** The message's Kafka timestamp: the balance it changes takes it to admission (freshness). */
  readonly causedAtMs: number;
  /** The trace context its effects carry on (AccountCommand.traceparent). */
  readonly traceparent?: string;
  readonly ref: Ref;
}

export interface IntakeBatch<Ref> {
  readonly items: readonly AccountCommand<Ref>[];
  readonly allowances: readonly AllowanceRecord[];
  /** The admissions whose recorded allowance parts the commands depend on. */
  readonly admissionIds: readonly string[];
  useRecordedAllowances(recorded: ReadonlyMap<string, number>): void;
}

export function intakeBatch<Ref>(intakes: readonly ConsumedIntake<Ref>[], now: string): IntakeBatch<Ref> {
  let allowanceOf: ReadonlyMap<string, number> = new Map();
  const items: AccountCommand<Ref>[] = [];
  const allowances: AllowanceRecord[] = [];
  const remember = (allowance: AllowanceRecord, from: ConsumedIntake<Ref>) => {
    allowances.push(allowance);
    const refund = lateAllowanceRefund(allowance.admissionId, allowance.allowanceCredits, now);
    items.push({
      accountId: allowance.accountId,
      // A decision whose allowance part was recorded before is a redelivery: nothing to give back.
      command: (state) => (allowanceOf.has(allowance.admissionId) ? null : refund(state)),
      causationId: from.causationId,
      causedAtMs: from.causedAtMs,
      traceparent: from.traceparent,
      ref: from.ref,
    });
  };
  for (const from of intakes) {
    const { intake, causationId, causedAtMs, traceparent, ref } = from;
    switch (intake.kind) {
      case 'reserve':
        items.push({ accountId: intake.accountId, command: reserveCommand(intake, now), causationId, causedAtMs, traceparent, ref });
        if (intake.allowance !== null) remember(intake.allowance, from);
        break;
      case 'allowance':
        remember(intake.allowance, from);
        break;
      case 'complete':
        items.push({
          accountId: intake.accountId,
          command: (state) => completionCommand(intake, allowanceOf.get(intake.admissionId), now)(state),
          causationId,
          causedAtMs,
          traceparent,
          ref,
        });
        break;
      case 'ignore':
      case 'invalid':
        break;
      default: {
        const _exhaustive: never = intake;
        return _exhaustive;
      }
    }
  }
  const admissionIds = intakes.flatMap(({ intake }) =>
    intake.kind === 'complete' || intake.kind === 'reserve' ? [intake.admissionId] : intake.kind === 'allowance' ? [intake.allowance.admissionId] : [],
  );
  return {
    items,
    allowances,
    admissionIds,
    useRecordedAllowances: (recorded) => {
      allowanceOf = recorded;
    },
  };
}
