export { DEFAULT_LOAD_FEEDBACK_TOPICS, type LoadFeedbackTopics } from './topics';
export { adapterLimits, type AdapterLimits } from './limits';
export { DemandWindow, type DecisionSample, type RecordOutcome } from './demand/demand-window';
export { FeedbackLoop, type FeedbackLoopOptions, type LoopTick } from './feedback-loop';
export {
  ReputationJob,
  planReputation,
  userKey,
  type ReputationJobOptions,
  type ReputationPlan,
  type ReputationUpdate,
  type SignalsSource,
  type UserReputation,
  type UserSignals,
} from './reputation/reputation-job';
export { AbuseSignalsSource } from './clickhouse/abuse-signals-source';
export { readCompactedTopic, RestoreTimeoutError, type CompactedReadOptions } from './kafka/compacted-reader';
export {
  FeedbackPublisher,
  limitsAdjustedEvent,
  reputationChangedEvent,
  restoredMultipliers,
  restoredReputation,
} from './kafka/feedback-events';
export { FleetSimulator, fleetSimulatorLimits, type SimulatedFleet } from './fleet/fleet-simulator';
