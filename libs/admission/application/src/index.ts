export {
  AdmissionService,
  idempotencyKey,
  type AdmissionInput,
  type AdmissionServiceDeps,
  type AdmitOutcome,
  type CompleteOutcome,
} from './admission-service';
export { AnswerCodec } from './answer-codec';
export { ExpiringMemo } from './bounded-memo';
export type { DecisionAnswer } from './decision-answer';
export { decidedEventData, replayableOf } from './decision-event';
export { digest64, fingerprintDigest, fingerprintOf, type RequestIdentity } from './fingerprint';
export { IdempotencyStore } from './idempotency-store';
export { admissionServiceLimits, IDEMPOTENCY_ENTRIES_LIMIT, replayLookbackMs, validateServiceLimits, type AdmissionServiceLimits } from './limits';
export { NotOwnerError, isNotOwnerError, type Clock, type DecisionSink, type IdSource, type Ownership, type ServiceObserver } from './ports';
export { ReplayLog, type ReplayItem } from './replay-log';
export { ManualClock, MemorySink, sequentialIds } from './testing';
export { OwnershipTable, type PartitionOwner } from './ownership-table';
