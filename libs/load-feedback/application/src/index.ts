/**
 * @access/load-feedback-application: load-feedback's use cases around its pure domain. The demand window, the
 * feedback loop (samples + demand + controller state, kept only once published), the reputation job, and
 * `LoadFeedbackService`, which runs them on its own clock behind `FeedbackPorts`.
 */
export { applicationLimits, type ApplicationLimits } from './limits';
export { DemandWindow, type DecisionSample, type RecordOutcome } from './demand-window';
export { FeedbackLoop, type FeedbackLoopOptions, type LoopTick } from './feedback-loop';
export { LoadFeedbackService, reputationRowsMax, type FeedbackPorts, type LimitsView, type LoadFeedbackServiceOptions, type PublishedState } from './feedback-service';
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
} from './reputation-job';
