import type { ReputationConfig } from '../feedback-config';
import { defaultFeedbackConfig } from '../default-config';

/**
 * What load-feedback knows about one user (accountId|userId) from usage history in ClickHouse,
 * over the last 7 days.
 */
export interface ReputationSignals {
  /** Requests decided (admitted or rejected). */
  readonly requests: number;
  /** Succeeded over completed requests, 0..1. */
  readonly successRatio: number;
  /** Rejected over decided requests, 0..1: a user who keeps hitting limits. */
  readonly rejectionRatio: number;
  /** Failed over completed requests, 0..1. */
  readonly failureRatio: number;
  /** Peak requests in one minute over mean requests per active minute, at least 1; 1 is perfectly even. */
  readonly burstiness: number;
  /** Credits charged beyond the estimates admission held for them (Σ positive actual − estimated). */
  readonly overshootCredits: number;
  /** Days of the last 7 with at least one request, 0..7. */
  readonly activeDays: number;
}

/** The factor the signals point at, and how it was reached (published as `signals` detail). */
export interface ReputationScore {
  readonly target: number;
  readonly evidence: boolean;
  readonly bonus: number;
  readonly penalties: {
    readonly rejection: number;
    readonly failure: number;
    readonly burstiness: number;
    readonly overshoot: number;
  };
}

/**
 * Scores signals into a target factor. Steady successful usage (high success ratio, active most days,
 * even load) earns up to factorMax − 1 of burst; each abuse signal costs up to its penaltyMax, and any
 * active abuse signal also scales the bonus away, so an abusive user ends below 1 however successful.
 * Too few requests is no evidence: the target is 1.
 */
export function scoreReputation(signals: ReputationSignals, config: ReputationConfig = defaultFeedbackConfig.reputation): ReputationScore {
  const requests = finiteOr(signals.requests, 0);
  if (requests < config.minRequests) {
    return { target: 1, evidence: false, bonus: 0, penalties: { rejection: 0, failure: 0, burstiness: 0, overshoot: 0 } };
  }
  const t = config.tighten;
  const rejection = ramp(ratio(signals.rejectionRatio), t.rejectionRatio.from, t.rejectionRatio.full);
  const failure = ramp(ratio(signals.failureRatio), t.failureRatio.from, t.failureRatio.full);
  const burstiness = Math.max(1, finiteOr(signals.burstiness, 1));
  const burst = ramp(burstiness, t.burstiness.from, t.burstiness.full);
  const overshoot = ramp(Math.max(0, finiteOr(signals.overshootCredits, 0)), t.overshootCredits.from, t.overshootCredits.full);

  const success = ramp(ratio(signals.successRatio), config.earn.successRatioFrom, 1);
  const activity = Math.min(1, clamp(finiteOr(signals.activeDays, 0), 0, 7) / config.earn.activeDaysFull);
  const steadiness = 1 - ramp(burstiness, 1, config.earn.burstinessMax);
  const untainted = (1 - rejection) * (1 - failure) * (1 - burst) * (1 - overshoot);
  const bonus = (config.factorMax - 1) * success * activity * steadiness * untainted;

  const penalties = {
    rejection: rejection * t.rejectionRatio.penaltyMax,
    failure: failure * t.failureRatio.penaltyMax,
    burstiness: burst * t.burstiness.penaltyMax,
    overshoot: overshoot * t.overshootCredits.penaltyMax,
  };
  const penalty = penalties.rejection + penalties.failure + penalties.burstiness + penalties.overshoot;
  return { target: clamp(1 + bonus - penalty, config.factorMin, config.factorMax), evidence: true, bonus, penalties };
}

/**
 * The user's reputation factor after `elapsedMs`: it moves from `previousFactor` towards the target
 * the signals point at, exponentially, with a short half-life downwards (abuse tightens within
 * minutes) and a long one upwards (burst is earned, and forgiven, over a day). With no evidence the
 * target is 1, so the factor decays towards 1. Always within [factorMin, factorMax]; never overshoots
 * the target.
 */
export function reputationFactor(
  signals: ReputationSignals,
  previousFactor: number,
  elapsedMs: number,
  config: ReputationConfig = defaultFeedbackConfig.reputation,
): number {
  const previous = clamp(finiteOr(previousFactor, 1), config.factorMin, config.factorMax);
  const elapsed = Math.max(0, finiteOr(elapsedMs, 0));
  const { target } = scoreReputation(signals, config);
  const halfLifeMs = target < previous ? config.tightenHalfLifeMs : config.earnHalfLifeMs;
  const remaining = Math.pow(2, -elapsed / halfLifeMs);
  return clamp(target + (previous - target) * remaining, config.factorMin, config.factorMax);
}

/** 0 at or below `from`, 1 at or above `full`, linear between. */
function ramp(value: number, from: number, full: number): number {
  return clamp((value - from) / (full - from), 0, 1);
}

function ratio(value: number): number {
  return clamp(finiteOr(value, 0), 0, 1);
}

function finiteOr(value: number, fallback: number): number {
  return Number.isFinite(value) ? value : fallback;
}

function clamp(value: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, value));
}
