export { priorities, shedOrder, restoreOrder, classKey, roundMultiplier, type Priority, type TrafficClass } from './classes';
export { feedbackLimits, type FeedbackLimits } from './limits';
export {
  feedbackConfigSchema,
  parseFeedbackConfig,
  type FeedbackConfig,
  type ControllerConfig,
  type StaleSamplesConfig,
  type ReputationConfig,
  type PlanFeedbackConfig,
  type ConfigError,
  type ParseFeedbackConfigResult,
} from './feedback-config';
export { defaultFeedbackConfig } from './default-config';
export { checkFeedbackPlans } from './catalog-check';
export {
  createLoadController,
  type LoadController,
  type ControllerState,
  type ControllerInputs,
  type LoadSample,
  type ClassDemand,
  type ClassMultiplier,
  type LimitChange,
  type FeedbackReason,
  type TickResult,
} from './controller/load-controller';
export { weightedFairShare, type FairShareClaim } from './controller/fair-share';
export { reputationFactor, scoreReputation, type ReputationSignals, type ReputationScore } from './reputation/reputation';
