export { KafkaDecisionSink, completedEnvelope, decidedEnvelope, type FencedDecisionWriter } from './kafka/kafka-decision-sink';
export { StateReader, type StateReaderOptions } from './kafka/state-reader';
export { DEFAULT_ADMISSION_TOPICS, type AdmissionTopics } from './kafka/topics';
export {
  ADMISSION_BODY_LIMIT_BYTES,
  admissionRequestSchema,
  completionRequestSchema,
  issuesOf,
  parseAdmissionRequest,
  parseCompletionRequest,
} from './http/request';
export {
  durationText,
  rateLimitHeaders,
  renderAdmissionError,
  renderAdmitOutcome,
  renderCompleteOutcome,
  renderDecision,
  retryAfterSeconds,
  type HttpAnswer,
} from './http/render';
export { REPLICA_HEADER } from './kafka/state-reader';
export { ownerUnavailable } from './http/render';
export { DECIDED_BY_HEADER, FORWARDED_HEADER, OWNER_GENERATION_HEADER, NOT_OWNER_HEADER, Forwarder, type ForwardedAnswer, type OwnerClient } from './replicas/forwarder';
export { replicaLimits } from './replicas/limits';
export { ReplicaCoordinator, type PositionSource, type ReplicaCoordinatorOptions, type ReplicaMemberData } from './replicas/replica-coordinator';
export { AdmissionRouter, soloRouter, type LocalDecision, type OwnerDirectory, type RoutedAnswer, type RoutedRequest } from './replicas/router';
