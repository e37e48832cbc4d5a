/**
 * @access/load-feedback-adapters: load-feedback's Kafka and ClickHouse edges, and `kafkaFeedbackPorts`, which
 * gives the service (@access/load-feedback-application) its ports over them.
 */
export { DEFAULT_LOAD_FEEDBACK_TOPICS, type LoadFeedbackTopics } from './topics';
export { adapterLimits, type AdapterLimits } from './limits';
export { AbuseSignalsSource } from './clickhouse/abuse-signals-source';
export { readCompactedTopic, RestoreTimeoutError, type CompactedReadOptions } from './kafka/compacted-reader';
export {
  FeedbackPublisher,
  limitsAdjustedEvent,
  reputationChangedEvent,
  restoredMultipliers,
  restoredReputation,
} from './kafka/feedback-events';
export { kafkaFeedbackPorts, type KafkaFeedbackOptions } from './kafka/feedback-ports';
