import type { AllowanceWindow, Plan } from '@access/catalog';
import type { AccountState, FamilyAllowance, UserState } from './accounts';
import {
  LIMIT_NAMES,
  type DecidedBy,
  type Decision,
  type FundingSource,
  type LimitReport,
  type Rejection,
} from './decision';
import { checkInto, newGcraResult, type GcraResult } from './gcra';
import { admissionLimits } from './limits';
import { RollingWindow } from './rolling-window';

/**
 * The waterfall of CONTRACTS.md as one synchronous function of in-memory state:
 *
 *   1. protective limits   per-user requests/min, per-user concurrency, per-account credits/min
 *   2. load shedding       load multiplier 0 for (model, plan, priority), which outranks layer 1's reasons
 *   3. included allowance  the least that remains across the family's rolling windows
 *   4. credits             hold the rest if the account's available credits cover it
 *
 * It reads state and writes only into the reusable `scratch`; AdmissionState commits the effects of
 * an admitted decision afterwards. No await, no clock, no ids: everything arrives in `input`.
 *
 * A load multiplier of 0 is not a limit of zero. It means "shed this (model, plan, priority)", and the
 * contract answers such a request load_shed whatever the other limits say: while a class is shed the
 * limit that binds is the fleet's, so a rate_limited answer with a retry time would tell the caller
 * to come back at a moment that changes nothing. Layer 1's limits are still computed (with the
 * multiplier taken as 1, never "limit 0") so that the shed decision reports them as they stand.
 */

/** Everything one decision reads, looked up by AdmissionState. Reused across decisions. */
export interface WaterfallInput {
  admissionId: string;
  requestId: string;
  accountId: string;
  userId: string;
  model: string;
  family: string;
  endpoint: string;
  priority: Decision['priority'];
  plan: Plan;
  priceBookVersion: string;
  estimatedCredits: number;
  nowMs: number;
  /** Null until the account or user first has state. */
  account: AccountState | null;
  user: UserState | null;
  load: number;
  reputation: number;
  loadShedRetryAfterMs: number;
  allowanceNames: ReadonlyMap<AllowanceWindow, string>;
}

/** What the commit of an admitted decision needs, besides the decision itself. */
export interface WaterfallScratch {
  readonly rpm: GcraResult;
  readonly credits: GcraResult;
  allowanceCredits: number;
  heldCredits: number;
  /** The allowance window with the least remaining (-1: the family has none), and what remains in it. */
  bindingWindow: number;
  bindingRemaining: number;
}

export function newWaterfallInput(plan: Plan): WaterfallInput {
  return {
    admissionId: '',
    requestId: '',
    accountId: '',
    userId: '',
    model: '',
    family: '',
    endpoint: '',
    priority: 'standard',
    plan,
    priceBookVersion: '',
    estimatedCredits: 0,
    nowMs: 0,
    account: null,
    user: null,
    load: 1,
    reputation: 1,
    loadShedRetryAfterMs: 0,
    allowanceNames: new Map(),
  };
}

export function newWaterfallScratch(): WaterfallScratch {
  return { rpm: newGcraResult(), credits: newGcraResult(), allowanceCredits: 0, heldCredits: 0, bindingWindow: -1, bindingRemaining: 0 };
}

/**
 * A plan's base value times the multipliers, as a whole number: at least 1 (a factor can tighten a
 * limit, never close it: closing is load shedding's job) and at most `max`. The epsilon absorbs float
 * noise such as 10 × 0.7 = 7.000000000000001 or 3 × 0.1 × 10 = 3.0000000000000004.
 */
export function effectiveLimit(base: number, factor: number, max: number): number {
  const value = Math.floor(base * factor + 1e-9);
  return value < 1 ? 1 : value > max ? max : value;
}

// Read once: on the hot path a property read through a module namespace is not free.
const PERIOD_MS = admissionLimits.ratePeriodMs;
const RATE_LIMIT_MAX = admissionLimits.effectiveRateLimitMax;
const CONCURRENCY_MAX = admissionLimits.effectiveConcurrencyMax;
const BUCKETS_PER_WINDOW = admissionLimits.allowanceBucketsPerWindow;

const NO_FUNDING: readonly FundingSource[] = [];
/** Shared when nothing is scaled (the usual case), so most decisions allocate one object less. */
const NEUTRAL_MULTIPLIERS: Decision['multipliers'] = Object.freeze({ load: 1, reputation: 1 });

function multipliers(input: WaterfallInput): Decision['multipliers'] {
  return input.load === 1 && input.reputation === 1 ? NEUTRAL_MULTIPLIERS : { load: input.load, reputation: input.reputation };
}
const NO_WINDOWS: readonly AllowanceWindow[] = [];

export function runWaterfall(input: WaterfallInput, scratch: WaterfallScratch): Decision {
  const { plan, nowMs, account, user } = input;
  const cost = input.estimatedCredits;
  const factor = (input.load > 0 ? input.load : 1) * input.reputation;
  const rpmLimit = effectiveLimit(plan.requestsPerMinute, factor, RATE_LIMIT_MAX);
  const concurrencyLimit = effectiveLimit(plan.concurrentRequests, factor, CONCURRENCY_MAX);
  const cpmLimit = effectiveLimit(plan.creditsPerMinute, factor, RATE_LIMIT_MAX);
  scratch.allowanceCredits = 0;
  scratch.heldCredits = 0;

  // 1. Protective limits: all three are evaluated, so `limits` reports every one that applied.
  const rpm = checkInto(scratch.rpm, user === null ? 0 : user.rpmAtMs, user === null ? 0 : user.rpmDebt, nowMs, 1, rpmLimit, PERIOD_MS);
  const slotsInUse = user === null ? 0 : user.slotCount;
  const concurrencyOk = slotsInUse < concurrencyLimit;
  const cpm = checkInto(scratch.credits, account === null ? 0 : account.creditsAtMs, account === null ? 0 : account.creditsDebt, nowMs, cost, cpmLimit, PERIOD_MS);
  // 2. Load shedding, answered before the protective limits' verdict: the contract puts a shed class
  // ahead of every other reason (see the comment at the top).
  if (input.load === 0) {
    const limits = protectiveReports(input, rpm, rpmLimit, concurrencyLimit, slotsInUse, cpm, cpmLimit);
    return rejected(input, 'load_shed', 'load_shedding', input.loadShedRetryAfterMs, limits, limits[0] as LimitReport, null);
  }

  if (!rpm.allowed || !concurrencyOk || !cpm.allowed) {
    let retryAfterMs = 0;
    if (!rpm.allowed) retryAfterMs = rpm.retryAfterMs;
    if (!concurrencyOk && user !== null) retryAfterMs = Math.max(retryAfterMs, slotFreedAfterMs(user, slotsInUse - concurrencyLimit + 1, nowMs));
    if (!cpm.allowed) retryAfterMs = Math.max(retryAfterMs, cpm.retryAfterMs);
    const reason: Rejection = !rpm.allowed ? 'rate_limited' : !concurrencyOk ? 'concurrency_limited' : 'rate_limited';
    const limits = protectiveReports(input, rpm, rpmLimit, concurrencyLimit, slotsInUse, cpm, cpmLimit);
    return rejected(input, reason, 'protective_limits', retryAfterMs, limits, limits[0] as LimitReport, null);
  }

  // 3. Included allowance: the least that remains across the family's windows pays first.
  const family: FamilyAllowance | null = account === null ? null : account.allowanceOf(input.family);
  const specs = family === null ? (plan.allowanceByFamily.get(input.family) ?? NO_WINDOWS) : family.specs;
  bindAllowance(scratch, specs, family, nowMs);
  const bindingRemaining = scratch.bindingRemaining;
  const allowanceCredits = scratch.bindingWindow === -1 ? 0 : bindingRemaining < cost ? bindingRemaining : cost;
  const needCredits = cost - allowanceCredits;

  // 4. Credits: hold the rest, if the account can cover it.
  let availableCredits: number | null = null;
  if (needCredits > 0) {
    availableCredits = account === null ? 0 : account.availableCredits;
    if (needCredits > availableCredits) {
      const limits = protectiveReports(input, rpm, rpmLimit, concurrencyLimit, slotsInUse, cpm, cpmLimit);
      pushAllowanceReports(limits, input, specs, family, 0);
      return rejected(input, 'insufficient_credits', 'credits', null, limits, limits[0] as LimitReport, availableCredits);
    }
  }

  // Admitted.
  scratch.allowanceCredits = allowanceCredits;
  scratch.heldCredits = needCredits;
  const requestsLimit: LimitReport = { name: LIMIT_NAMES.userRequestsPerMinute, limit: rpmLimit, remaining: rpm.remaining, resetMs: rpm.resetMs };
  const limits: LimitReport[] = [
    requestsLimit,
    concurrencyReport(user, concurrencyLimit, slotsInUse, true, nowMs, plan),
    { name: LIMIT_NAMES.accountCreditsPerMinute, limit: cpmLimit, remaining: cpm.remaining, resetMs: cpm.resetMs },
  ];
  if (specs.length > 0) pushAllowanceReports(limits, input, specs, family, allowanceCredits);
  return admitted(input, fundingOf(specs, scratch.bindingWindow, allowanceCredits, needCredits), needCredits, limits, requestsLimit, availableCredits);
}

/** The protective limits' reports of a rejected request, the user's requests per minute first (`requestsLimit`). */
function protectiveReports(
  input: WaterfallInput,
  rpm: GcraResult,
  rpmLimit: number,
  concurrencyLimit: number,
  slotsInUse: number,
  cpm: GcraResult,
  cpmLimit: number,
): LimitReport[] {
  return [
    gcraReportNow(LIMIT_NAMES.userRequestsPerMinute, rpm, rpmLimit, PERIOD_MS),
    concurrencyReport(input.user, concurrencyLimit, slotsInUse, false, input.nowMs, input.plan),
    gcraReportNow(LIMIT_NAMES.accountCreditsPerMinute, cpm, cpmLimit, PERIOD_MS),
  ];
}

/** Into `scratch`: the allowance window of the family with the least remaining, the one that pays first. */
function bindAllowance(scratch: WaterfallScratch, specs: readonly AllowanceWindow[], family: FamilyAllowance | null, nowMs: number): void {
  scratch.bindingWindow = -1;
  scratch.bindingRemaining = 0;
  for (let i = 0; i < specs.length; i++) {
    const spec = specs[i] as AllowanceWindow;
    const used = family === null ? 0 : (family.windows[i] as RollingWindow).usage(nowMs);
    const remaining = spec.credits > used ? spec.credits - used : 0;
    if (scratch.bindingWindow === -1 || remaining < scratch.bindingRemaining) {
      scratch.bindingWindow = i;
      scratch.bindingRemaining = remaining;
    }
  }
}

/** Who pays an admitted request: the binding allowance window, then credits, in that order. */
function fundingOf(specs: readonly AllowanceWindow[], bindingWindow: number, allowanceCredits: number, needCredits: number): readonly FundingSource[] {
  if (allowanceCredits > 0 && needCredits > 0) {
    return [
      { source: 'allowance', window: (specs[bindingWindow] as AllowanceWindow).window, credits: allowanceCredits },
      { source: 'credits', credits: needCredits },
    ];
  }
  if (allowanceCredits > 0) return [{ source: 'allowance', window: (specs[bindingWindow] as AllowanceWindow).window, credits: allowanceCredits }];
  if (needCredits > 0) return [{ source: 'credits', credits: needCredits }];
  return NO_FUNDING;
}

function admitted(
  input: WaterfallInput,
  fundedBy: readonly FundingSource[],
  needCredits: number,
  limits: readonly LimitReport[],
  requestsLimit: LimitReport,
  availableCredits: number | null,
): Decision {
  const { plan, nowMs } = input;
  // A request that costs nothing, or that the allowance covers, is decided by the allowance layer.
  const decidedBy: DecidedBy = needCredits > 0 ? 'credits' : 'allowance';
  return {
    decision: 'admitted',
    reason: null,
    decidedBy,
    admissionId: input.admissionId,
    requestId: input.requestId,
    accountId: input.accountId,
    userId: input.userId,
    model: input.model,
    family: input.family,
    endpoint: input.endpoint,
    priority: input.priority,
    plan: plan.name,
    priceBookVersion: input.priceBookVersion,
    decidedAtMs: nowMs,
    estimatedCredits: input.estimatedCredits,
    fundedBy,
    heldCredits: needCredits,
    reservationExpiresAtMs: nowMs + plan.reservationTimeoutMs,
    limits,
    requestsLimit,
    multipliers: multipliers(input),
    retryAfterMs: null,
    availableCredits,
  };
}

function rejected(
  input: WaterfallInput,
  reason: Rejection,
  decidedBy: DecidedBy,
  retryAfterMs: number | null,
  limits: readonly LimitReport[],
  requestsLimit: LimitReport,
  availableCredits: number | null,
): Decision {
  return {
    decision: 'rejected',
    reason,
    decidedBy,
    admissionId: input.admissionId,
    requestId: input.requestId,
    accountId: input.accountId,
    userId: input.userId,
    model: input.model,
    family: input.family,
    endpoint: input.endpoint,
    priority: input.priority,
    plan: input.plan.name,
    priceBookVersion: input.priceBookVersion,
    decidedAtMs: input.nowMs,
    estimatedCredits: input.estimatedCredits,
    fundedBy: NO_FUNDING,
    heldCredits: 0,
    reservationExpiresAtMs: null,
    limits,
    requestsLimit,
    multipliers: multipliers(input),
    retryAfterMs,
    availableCredits,
  };
}

/** A rate limit as it stands without this request (it was not admitted, so nothing was charged). */
function gcraReportNow(name: string, result: GcraResult, limit: number, periodMs: number): LimitReport {
  const capacity = limit * periodMs;
  const owed = result.owedDebt;
  return {
    name,
    limit,
    remaining: owed >= capacity ? 0 : Math.floor((capacity - owed) / periodMs),
    resetMs: Math.ceil(owed / limit),
  };
}

/**
 * Concurrency: `remaining` free slots after this decision; `resetMs` until the earliest slot is
 * certain to free up (its reservation expiry; a completion may free it sooner).
 */
function concurrencyReport(user: UserState | null, limit: number, inUse: number, admitted: boolean, nowMs: number, plan: Plan): LimitReport {
  const used = admitted ? inUse + 1 : inUse;
  let resetMs = 0;
  if (user !== null && inUse > 0) resetMs = slotFreedAfterMs(user, 1, nowMs);
  else if (admitted) resetMs = plan.reservationTimeoutMs;
  return { name: LIMIT_NAMES.userConcurrentRequests, limit, remaining: used >= limit ? 0 : limit - used, resetMs };
}

/**
 * Milliseconds until `count` of the user's slots have expired: exact for concurrency_limited, because
 * slots are released at their expiry (a completion can only make it sooner).
 */
function slotFreedAfterMs(user: UserState, count: number, nowMs: number): number {
  const freedAtMs = user.slotsFreedAtMs(count);
  return freedAtMs > nowMs ? freedAtMs - nowMs : 0;
}

function pushAllowanceReports(
  limits: LimitReport[],
  input: WaterfallInput,
  specs: readonly AllowanceWindow[],
  family: FamilyAllowance | null,
  consumedCredits: number,
): void {
  const nowMs = input.nowMs;
  for (let i = 0; i < specs.length; i++) {
    const spec = specs[i] as AllowanceWindow;
    const window = family === null ? null : (family.windows[i] as RollingWindow);
    const used = (window === null ? 0 : window.usage(nowMs)) + consumedCredits;
    let resetMs = window === null ? 0 : window.nextReleaseMs(nowMs);
    if (resetMs === 0 && consumedCredits > 0) resetMs = RollingWindow.releaseAfterMs(spec.windowMs, BUCKETS_PER_WINDOW, nowMs);
    limits.push({
      name: input.allowanceNames.get(spec) ?? spec.window,
      limit: spec.credits,
      remaining: spec.credits > used ? spec.credits - used : 0,
      resetMs,
    });
  }
}
