import type { FeedbackConfig } from './feedback-config';

/**
 * The values config/feedback.yaml ships with, for tests and for callers that score reputation
 * without a loaded file. Services load the file (parseFeedbackConfig); this is not a fallback for a
 * file that fails to parse: a service with an invalid config refuses to start.
 */
export const defaultFeedbackConfig: FeedbackConfig = {
  tickIntervalMs: 5000,
  models: ['sora-2', 'codex-1'],
  plans: {
    free: { weight: 1, priorities: ['standard', 'batch'] },
    plus: { weight: 2, priorities: ['standard', 'batch'] },
    pro: { weight: 3, priorities: ['standard', 'batch'] },
    enterprise: { weight: 4, priorities: ['critical', 'standard', 'batch'] },
    payg: { weight: 2, priorities: ['standard', 'batch'] },
  },
  controller: {
    targetUtilization: 0.8,
    hysteresisBand: 0.03,
    criticalReserve: 0.15,
    stepDownMax: 0.25,
    stepUpMax: 0.05,
    loadSmoothing: 0.5,
    raiseBurstMs: 60_000,
    restoreAfterTicks: 2,
    borrowCap: 1.5,
    borrowBelowUtilization: 0.5,
    floors: { critical: 0.5, standard: 0.1, batch: 0 },
  },
  staleSamples: {
    staleAfterMs: 15_000,
    holdMs: 60_000,
    stepPerTick: 0.05,
    safeDefaults: { critical: 0.9, standard: 0.6, batch: 0.3 },
  },
  reputation: {
    factorMin: 0.5,
    factorMax: 1.5,
    minRequests: 50,
    earn: { successRatioFrom: 0.9, activeDaysFull: 5, burstinessMax: 4 },
    tighten: {
      rejectionRatio: { from: 0.1, full: 0.5, penaltyMax: 0.3 },
      failureRatio: { from: 0.05, full: 0.3, penaltyMax: 0.2 },
      burstiness: { from: 4, full: 12, penaltyMax: 0.2 },
      overshootCredits: { from: 100, full: 10_000, penaltyMax: 0.1 },
    },
    tightenHalfLifeMs: 600_000,
    earnHalfLifeMs: 86_400_000,
  },
};
