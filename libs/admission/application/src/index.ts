export {
  AdmissionService,
  idempotencyKey,
  type AdmissionInput,
  type AdmissionServiceDeps,
  type AdmitOutcome,
  type CompleteOutcome,
} from './admission-service';
export { ExpiringMemo } from './bounded-memo';
export { decidedEventData, replayableOf } from './decision-event';
export { fingerprintOf, type RequestIdentity } from './fingerprint';
export { admissionServiceLimits, replayLookbackMs, validateServiceLimits, type AdmissionServiceLimits } from './limits';
export { NotOwnerError, isNotOwnerError, type Clock, type DecisionSink, type IdSource, type Ownership, type ServiceObserver } from './ports';
export { ReplayLog, type ReplayItem } from './replay-log';
export { ManualClock, MemorySink, sequentialIds } from './testing';
export { OwnershipTable, type PartitionOwner } from './ownership-table';
