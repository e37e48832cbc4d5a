import { TOPICS } from '@access/contracts';

/** The topics load-feedback and the fleet simulator read and write; tests give each run its own. */
export interface LoadFeedbackTopics {
  /** `load.sampled` from fleets (read). */
  readonly load: string;
  /** `admission.decided` (read: demand per class). */
  readonly admissions: string;
  /** `usage.request_completed` (read by the fleet simulator only). */
  readonly usage: string;
  /** `limits.adjusted` (written; read once at start to resume). */
  readonly limits: string;
  /** `reputation.changed` (written; read once at start to resume). */
  readonly reputation: string;
  readonly deadletter: string;
}

export const DEFAULT_LOAD_FEEDBACK_TOPICS: LoadFeedbackTopics = {
  load: TOPICS.load,
  admissions: TOPICS.admissions,
  usage: TOPICS.usage,
  limits: TOPICS.limits,
  reputation: TOPICS.reputation,
  deadletter: TOPICS.deadletter,
};
