export { KafkaDecisionSink, completedEnvelope, decidedEnvelope } from './kafka/kafka-decision-sink';
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
