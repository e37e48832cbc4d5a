import { allowsPriority, priceModel, type AllowanceWindow, type Plan, type PlansConfig, type PriceBook, type Priority } from '@access/catalog';
import { AccountState, UserState } from './accounts';
import { DEFAULT_ADMISSION_OPTIONS, type AdmissionOptions } from './admission-options';
import {
  allowanceLimitName,
  type AdmissionError,
  type AdmissionErrorCode,
  type AdmissionRequest,
  type ApplyResult,
  type BalanceUpdate,
  type CompletionOutcome,
  type CompletionStatus,
  type DecideResult,
  type ReplayableDecision,
} from './decision';
import { chargeInto, debtAt, newGcraResult } from './gcra';
import { admissionLimits } from './limits';
import { OpenAdmissions, validCredits } from './open-admissions';
import { effectiveLimit, newWaterfallInput, newWaterfallScratch, runWaterfall, type WaterfallInput, type WaterfallScratch } from './waterfall';

export interface AdmissionStateConfig {
  readonly plans: PlansConfig;
  readonly priceBook: PriceBook;
  readonly options?: Partial<AdmissionOptions>;
}

/** A read-only view of one account, for tests, metrics and "why" endpoints. */
export interface AccountView {
  readonly accountId: string;
  readonly plan: string;
  readonly balanceVersion: number;
  readonly ledgerAvailableCredits: number;
  readonly unreflectedHeldCredits: number;
  readonly availableCredits: number;
  readonly openAdmissions: number;
}

const PRIORITY_INDEX: Readonly<Record<Priority, number>> = { critical: 0, standard: 1, batch: 2 };

/**
 * Everything admission decides with, in memory, and the only way to change it. Inputs arrive through
 * the apply* methods (from Kafka: balances, ledger reservations, limits, reputation, completions);
 * decide() is a synchronous function of this state, the request and the time passed in, and records
 * the effects of an admitted request (rate counters, concurrency slot, allowance usage, credit hold).
 *
 * Restart recovery feeds past decisions to replayDecision and past completions to applyCompletion,
 * which record the same effects without deciding again. Any input order converges: reservations or
 * completions that arrive before their decision are remembered (bounded) and applied when it does.
 *
 * Time only moves forward through the `nowMs` arguments; holds and slots expire when a call passes
 * their reservation expiry.
 */
export class AdmissionState {
  private readonly plans: PlansConfig;
  private readonly priceBook: PriceBook;
  private readonly options: AdmissionOptions;
  private readonly defaultPlan: Plan | null;
  private readonly accounts = new Map<string, AccountState>();
  /** The admitted requests tracked, their expiries, and inputs about admissions not known yet (see open-admissions.ts). */
  private readonly open: OpenAdmissions;
  /** model → plan → multiplier per priority index. Absent means 1. */
  private readonly loadMultipliers = new Map<string, Map<string, Float64Array>>();
  private readonly allowanceNames = new Map<AllowanceWindow, string>();
  private readonly input: WaterfallInput;
  private readonly scratch: WaterfallScratch = newWaterfallScratch();
  private readonly gcraScratch = newGcraResult();

  constructor(config: AdmissionStateConfig) {
    this.plans = config.plans;
    this.priceBook = config.priceBook;
    this.options = { ...DEFAULT_ADMISSION_OPTIONS, ...config.options };
    this.open = new OpenAdmissions(this.accounts, this.options.capacity);
    const fallback = config.plans.defaults.unknownAccountPlan;
    this.defaultPlan = fallback === null ? null : (config.plans.plans.get(fallback) ?? null);
    for (const plan of config.plans.plans.values()) {
      for (const w of plan.allowance) this.allowanceNames.set(w, allowanceLimitName(w.family, w.window));
    }
    const anyPlan = config.plans.plans.values().next().value;
    if (anyPlan === undefined) throw new Error('AdmissionState needs at least one plan');
    this.input = newWaterfallInput(anyPlan);
    this.input.allowanceNames = this.allowanceNames;
    this.input.loadShedRetryAfterMs = this.options.loadShedRetryAfterMs;
  }

  // ---------------------------------------------------------------- deciding

  /**
   * Decides one request at nowMs and, if admitted, records its effects. Invalid requests (and a full
   * instance) come back as an AdmissionError and change nothing; rejections change nothing either.
   */
  decide(request: AdmissionRequest, nowMs: number): DecideResult {
    this.open.expire(nowMs);
    const pricing = this.priceBook.models.get(request.model);
    if (pricing === undefined) return error('ADMISSION.UNKNOWN_MODEL', 'model', `unknown model ${JSON.stringify(request.model)}`, 'unknown_model');
    const priced = priceModel(pricing, request.estimate.meters, request.estimate.dimensions);
    if (!priced.ok) return error('ADMISSION.INVALID_ESTIMATE', `estimate.${priced.error.path}`, priced.error.message, priced.error.code);

    const account = this.accounts.get(request.accountId) ?? null;
    let plan: Plan;
    if (account !== null && account.plan !== null) plan = account.plan;
    else if (account !== null && account.planName !== '') {
      return error('ADMISSION.UNKNOWN_PLAN', 'accountId', `account ${request.accountId} is on plan ${account.planName}, which plans.yaml does not define`);
    } else if (this.defaultPlan !== null) plan = this.defaultPlan;
    else return error('ADMISSION.UNKNOWN_ACCOUNT', 'accountId', `account ${request.accountId} is not known to the ledger yet`);
    if (!allowsPriority(plan, request.priority)) {
      return error('ADMISSION.PRIORITY_NOT_ALLOWED', 'priority', `plan ${plan.name} may not send ${request.priority} requests`);
    }
    const user = account === null ? null : (account.users.get(request.userId) ?? null);
    const capacity = this.options.capacity;
    if (
      this.open.size >= capacity.openAdmissionsMax ||
      (account === null && this.accounts.size >= capacity.accountsMax) ||
      (account !== null && user === null && account.users.size >= capacity.usersPerAccountMax)
    ) {
      return error('ADMISSION.CAPACITY_EXHAUSTED', '', 'this admission instance tracks as many admissions, accounts or users as it may');
    }

    const input = this.input;
    input.admissionId = request.admissionId;
    input.requestId = request.requestId;
    input.accountId = request.accountId;
    input.userId = request.userId;
    input.model = request.model;
    input.family = pricing.family;
    input.endpoint = request.endpoint;
    input.priority = request.priority;
    input.plan = plan;
    input.priceBookVersion = this.priceBook.version;
    input.estimatedCredits = priced.credits;
    input.nowMs = nowMs;
    input.account = account;
    input.user = user;
    input.load = this.loadMultiplier(request.model, plan.name, request.priority);
    input.reputation = user === null ? 1 : user.reputation;
    const decision = runWaterfall(input, this.scratch);
    // Drop references so the reusable input does not keep state alive.
    input.account = null;
    input.user = null;
    if (decision.decision !== 'admitted') return decision;
    // Ids come from the caller; a duplicate would corrupt the tracking of the first one. Checked only
    // here, where the admission is recorded, since a rejection records nothing (isTracked says why it
    // is cheap).
    if (this.open.isTracked(request.admissionId)) {
      return error('ADMISSION.DUPLICATE_ADMISSION_ID', 'admissionId', `admission ${request.admissionId} is already tracked`);
    }

    const acc = account ?? this.createAccount(request.accountId, plan.name);
    const usr = user ?? this.createUser(acc, request.userId);
    const scratch = this.scratch;
    usr.rpmAtMs = scratch.rpm.atMs;
    usr.rpmDebt = scratch.rpm.debt;
    acc.creditsAtMs = scratch.credits.atMs;
    acc.creditsDebt = scratch.credits.debt;
    this.open.track(acc, usr, decision.admissionId, pricing.family, nowMs, nowMs, nowMs + plan.reservationTimeoutMs, decision.estimatedCredits, scratch.allowanceCredits, scratch.heldCredits);
    return decision;
  }

  /**
   * Records the effects of a decision made before (restart recovery) without deciding again: the rate
   * counters at its time, its allowance usage, and, if its reservation has not expired by nowMs, its
   * concurrency slot and credit hold. Replaying the same decision twice changes nothing.
   */
  replayDecision(event: ReplayableDecision, nowMs: number): ApplyResult {
    this.open.expire(nowMs);
    if (event.decision !== 'admitted') return 'applied';
    if (this.open.has(event.admissionId)) return 'stale';
    if (!validCredits(event.estimatedCredits) || !validCredits(event.heldCredits) || !Number.isFinite(event.decidedAtMs)) return 'invalid';
    let account = this.accounts.get(event.accountId) ?? null;
    if (account === null) {
      if (this.accounts.size >= this.options.capacity.accountsMax) return 'capacity_exhausted';
      account = this.createAccount(event.accountId, event.plan);
    } else if (account.planName === '') {
      account.changePlan(this.plans.plans.get(event.plan) ?? null, event.plan, admissionLimits.allowanceBucketsPerWindow);
    }
    let user = account.users.get(event.userId) ?? null;
    if (user === null) {
      if (account.users.size >= this.options.capacity.usersPerAccountMax) return 'capacity_exhausted';
      user = this.createUser(account, event.userId);
    }
    const plan = account.plan ?? this.plans.plans.get(event.plan) ?? this.defaultPlan;
    if (plan !== null) this.chargeReplayedRates(account, user, event, plan);
    let allowanceCredits = 0;
    for (const f of event.fundedBy) if (f.source === 'allowance') allowanceCredits += f.credits;
    const family = event.family ?? this.priceBook.models.get(event.model)?.family ?? '';
    const expiresAtMs = event.reservationExpiresAtMs ?? event.decidedAtMs + (plan?.reservationTimeoutMs ?? this.plans.defaults.reservationTimeoutMs);
    return this.open.replay(account, user, event, family, expiresAtMs, allowanceCredits, nowMs);
  }

  /**
   * Undoes an admission that never became durable (publishing its decision failed, so the caller was
   * not told "admitted" and nobody will complete or settle it): its slot, hold and allowance usage are
   * given back at once instead of at its reservation expiry. Its rate-limit charge stays: the attempt
   * happened, and keeping it only errs on the safe side. Returns false when the admission is not tracked.
   */
  revoke(admissionId: string): boolean {
    return this.open.revoke(admissionId);
  }

  // ---------------------------------------------------------------- inputs

  /** `ledger.balance_changed`: the ledger's available credits for the account at `version`. */
  applyBalance(update: BalanceUpdate): ApplyResult {
    if (!Number.isSafeInteger(update.version) || update.version < 0 || !Number.isSafeInteger(update.availableCredits)) return 'invalid';
    let account = this.accounts.get(update.accountId) ?? null;
    if (account === null) {
      if (this.accounts.size >= this.options.capacity.accountsMax) return 'capacity_exhausted';
      account = this.createAccount(update.accountId, update.plan ?? this.plans.defaults.unknownAccountPlan ?? '');
    }
    if (update.version <= account.balanceVersion) return 'stale';
    account.balanceVersion = update.version;
    account.ledgerAvailableCredits = update.availableCredits;
    if (update.plan !== undefined && update.plan !== account.planName) {
      account.changePlan(this.plans.plans.get(update.plan) ?? null, update.plan, admissionLimits.allowanceBucketsPerWindow);
    }
    // Holds this balance now reflects stop counting, so none is counted twice.
    this.open.endReflectedHolds(account, update.version);
    return account.plan === null && account.planName !== '' ? 'unknown_plan' : 'applied';
  }

  /**
   * `ledger.credits_reserved` for an admission at ledger `version` (also right for its settled, voided
   * or expired events: any event that puts the admission's hold into the ledger's balance). The hold
   * stops counting once the balance seen has reached that version; until then it still counts, so it
   * is never forgotten. A reservation for an admission not known yet is remembered for replayDecision.
   */
  applyLedgerReserved(admissionId: string, version: number): ApplyResult {
    return this.open.applyLedgerReserved(admissionId, version);
  }

  /** `limits.adjusted`: the load multiplier for (model, plan, priority); 0 sheds it. */
  applyLimits(model: string, plan: string, priority: Priority, multiplier: number): ApplyResult {
    if (!validFactor(multiplier) || PRIORITY_INDEX[priority] === undefined) return 'invalid';
    let byPlan = this.loadMultipliers.get(model);
    if (byPlan === undefined) {
      byPlan = new Map();
      this.loadMultipliers.set(model, byPlan);
    }
    let byPriority = byPlan.get(plan);
    if (byPriority === undefined) {
      byPriority = new Float64Array([1, 1, 1]);
      byPlan.set(plan, byPriority);
    }
    byPriority[PRIORITY_INDEX[priority]] = multiplier;
    return 'applied';
  }

  /** `reputation.changed`: the user's reputation factor (scales their protective limits). */
  applyReputation(accountId: string, userId: string, factor: number): ApplyResult {
    if (!validFactor(factor)) return 'invalid';
    let account = this.accounts.get(accountId) ?? null;
    if (account === null) {
      if (factor === 1) return 'applied';
      if (this.accounts.size >= this.options.capacity.accountsMax) return 'capacity_exhausted';
      account = this.createAccount(accountId, this.plans.defaults.unknownAccountPlan ?? '');
    }
    let user = account.users.get(userId) ?? null;
    if (user === null) {
      if (factor === 1) return 'applied';
      if (account.users.size >= this.options.capacity.usersPerAccountMax) return 'capacity_exhausted';
      user = this.createUser(account, userId);
    }
    user.reputation = factor;
    return 'applied';
  }

  /**
   * `usage.request_completed`, priced by the caller: frees the concurrency slot and corrects the
   * allowance usage recorded at admission to the actual cost (allowance pays first, so a failed request
   * with zero meters gives all of it back). The credit hold keeps counting until the ledger reflects
   * it: the ledger settles it, and until its balance says so the held credits are not spendable.
   */
  applyCompletion(admissionId: string, actualCredits: number, status: CompletionStatus): CompletionOutcome {
    return this.open.applyCompletion(admissionId, actualCredits, status);
  }

  /**
   * Ends every slot and hold whose reservation expired by nowMs. Returns how many admissions expired.
   * A completed request's hold outlives its expiry until the ledger's balance reflects it (see
   * OpenAdmissions.expire).
   */
  expire(nowMs: number): number {
    return this.open.expire(nowMs);
  }

  /**
   * Drops state that carries no information any more (users and accounts with nothing in use, default
   * reputation, no ledger balance), so that memory follows active accounts. Call it periodically.
   * Returns the number of users and accounts dropped.
   */
  compact(nowMs: number): number {
    this.expire(nowMs);
    let dropped = 0;
    for (const [accountId, account] of this.accounts) {
      for (const [userId, user] of account.users) {
        // A limit is at least 1 per period, so debt ≤ elapsed ms means repaid at any limit.
        if (user.slotCount === 0 && user.reputation === 1 && debtAt(user.rpmAtMs, user.rpmDebt, nowMs, 1) === 0) {
          account.users.delete(userId);
          dropped++;
        }
      }
      if (
        account.balanceVersion < 0 &&
        account.users.size === 0 &&
        account.openAdmissions === 0 &&
        debtAt(account.creditsAtMs, account.creditsDebt, nowMs, 1) === 0 &&
        [...account.allowance.values()].every((f) => f.windows.every((w) => w.usage(nowMs) === 0))
      ) {
        this.accounts.delete(accountId);
        dropped++;
      }
    }
    return dropped;
  }

  // ---------------------------------------------------------------- views

  account(accountId: string): AccountView | null {
    const account = this.accounts.get(accountId);
    if (account === undefined) return null;
    return {
      accountId,
      plan: account.planName,
      balanceVersion: account.balanceVersion,
      ledgerAvailableCredits: account.ledgerAvailableCredits,
      unreflectedHeldCredits: account.unreflectedHeldCredits,
      availableCredits: account.availableCredits,
      openAdmissions: account.openAdmissions,
    };
  }

  /** Concurrency slots the user holds now (after expiring by the last time seen). */
  slotsInUse(accountId: string, userId: string): number {
    return this.accounts.get(accountId)?.users.get(userId)?.slotCount ?? 0;
  }

  stats(): { accounts: number; openAdmissions: number; earlyReservations: number; earlyCompletions: number } {
    return { accounts: this.accounts.size, ...this.open.stats() };
  }

  // ---------------------------------------------------------------- internals

  private loadMultiplier(model: string, plan: string, priority: Priority): number {
    const byPriority = this.loadMultipliers.get(model)?.get(plan);
    return byPriority === undefined ? 1 : (byPriority[PRIORITY_INDEX[priority]] ?? 1);
  }

  private createAccount(accountId: string, planName: string): AccountState {
    const account = new AccountState(accountId, this.plans.plans.get(planName) ?? null, planName);
    this.accounts.set(accountId, account);
    return account;
  }

  private createUser(account: AccountState, userId: string): UserState {
    const user = new UserState(userId);
    account.users.set(userId, user);
    return user;
  }

  /** The rate counters a replayed decision charged at its own time, under the limits in force now. */
  private chargeReplayedRates(account: AccountState, user: UserState, event: ReplayableDecision, plan: Plan): void {
    const load = this.loadMultiplier(event.model, plan.name, event.priority);
    const factor = (load > 0 ? load : 1) * user.reputation;
    const periodMs = admissionLimits.ratePeriodMs;
    const out = this.gcraScratch;
    chargeInto(out, user.rpmAtMs, user.rpmDebt, event.decidedAtMs, 1, effectiveLimit(plan.requestsPerMinute, factor, admissionLimits.effectiveRateLimitMax), periodMs);
    user.rpmAtMs = out.atMs;
    user.rpmDebt = out.debt;
    const cpmLimit = effectiveLimit(plan.creditsPerMinute, factor, admissionLimits.effectiveRateLimitMax);
    chargeInto(out, account.creditsAtMs, account.creditsDebt, event.decidedAtMs, event.estimatedCredits, cpmLimit, periodMs);
    account.creditsAtMs = out.atMs;
    account.creditsDebt = out.debt;
  }
}

function error(code: AdmissionErrorCode, path: string, message: string, pricingError: AdmissionError['pricingError'] = null): AdmissionError {
  return { decision: 'error', code, path, message, pricingError };
}

function validFactor(factor: number): boolean {
  return Number.isFinite(factor) && factor >= 0 && factor <= admissionLimits.factorMax;
}
