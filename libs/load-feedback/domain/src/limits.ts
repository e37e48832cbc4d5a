/**
 * Every collection the load-feedback core holds or receives has a named maximum here, so that memory
 * and work per tick are bounded whatever the fleets publish. `parseFeedbackConfig` checks the
 * configuration against these at boot; `tick` drops input beyond them instead of growing.
 */
export const feedbackLimits = {
  /** Models one controller instance tunes (each gets one multiplier per plan and priority). */
  modelsMax: 64,
  /** Plans in feedback.yaml; with three priorities this bounds the classes per model. */
  plansMax: 16,
  /** Regions remembered per model; a fleet reporting more regions is truncated (oldest region dropped). */
  regionsPerModelMax: 64,
  /** load.sampled events accepted by one tick; the app batches by tick, so more means a runaway producer. */
  samplesPerTickMax: 10_000,
  /** Demand rows accepted by one tick: one per (model, plan, priority) is all that is meaningful. */
  demandRowsPerTickMax: 64 * 16 * 3,
  /** No multiplier is ever configured or computed above this; borrowing caps are validated against it. */
  multiplierMax: 4,
  /** Longest wait, in ticks below the band, before the controller raises anything. */
  restoreAfterTicksMax: 100,
  /** Slowest controller clock accepted: one tick per 10 minutes is already too slow to protect a fleet. */
  tickIntervalMsMax: 600_000,
  /** Fastest controller clock accepted: faster than fleets sample only adds noise. */
  tickIntervalMsMin: 100,
  /** Longest stale-sample timeout or hold (one day); beyond that "holding the last value" means forever. */
  staleMsMax: 86_400_000,
  /** Longest reputation half-life (30 days). */
  reputationHalfLifeMsMax: 30 * 86_400_000,
} as const;

export type FeedbackLimits = typeof feedbackLimits;
