import { AdmissionRecord, type AccountState, type UserState } from './accounts';
import type { AdmissionCapacity } from './admission-options';
import type { ApplyResult, CompletionOutcome, CompletionStatus, ReplayableDecision } from './decision';
import { ExpiryQueue } from './expiry-queue';
import { admissionLimits } from './limits';
import type { RollingWindow } from './rolling-window';

/**
 * The admitted requests AdmissionState tracks, from their admission (or replay) to the end of their
 * concurrency slot and credit hold, and the inputs about them that arrive before their decision or
 * after their reservation ran out. Internal to this library: AdmissionState resolves accounts, users
 * and plans, and hands the per-admission bookkeeping to this class.
 */
export class OpenAdmissions {
  private readonly records = new Map<string, AdmissionRecord>();
  private readonly expiries = new ExpiryQueue<AdmissionRecord>();
  /** Ledger positions of reservations whose decision is not known yet, oldest first (Map keeps insertion order). */
  private readonly earlyReservations = new Map<string, number>();
  /** Completions whose decision is not known yet (replay order), oldest first. */
  private readonly earlyCompletions = new Map<string, number>();
  /** Admissions whose reservation ran out with no completion known here, oldest first (see completeLate). */
  private readonly lateDecisions = new Map<string, LateDecision>();
  /** The greatest admissionId ever tracked (string order), for the duplicate check in isTracked. */
  private maxTrackedId = '';

  /** `accounts` is AdmissionState's map, read here only to find a late completion's account and user. */
  constructor(
    private readonly accounts: ReadonlyMap<string, AccountState>,
    private readonly capacity: AdmissionCapacity,
  ) {}

  /** How many admissions are tracked. */
  get size(): number {
    return this.records.size;
  }

  has(admissionId: string): boolean {
    return this.records.has(admissionId);
  }

  /**
   * Whether an admission with this id is tracked, for decide's duplicate check. Callers use increasing
   * ids (UUIDv7), and an id above every id tracked so far cannot be tracked: that comparison spares the
   * lookup in a map of every open admission (a cache miss) on the usual path.
   */
  isTracked(admissionId: string): boolean {
    return admissionId <= this.maxTrackedId && this.records.has(admissionId);
  }

  stats(): { openAdmissions: number; earlyReservations: number; earlyCompletions: number } {
    return { openAdmissions: this.records.size, earlyReservations: this.earlyReservations.size, earlyCompletions: this.earlyCompletions.size };
  }

  /** Starts tracking an admitted request: slot, allowance usage, hold and expiry. */
  track(
    account: AccountState,
    user: UserState,
    admissionId: string,
    family: string,
    decidedAtMs: number,
    nowMs: number,
    expiresAtMs: number,
    estimatedCredits: number,
    allowanceCredits: number,
    heldCredits: number,
  ): void {
    let windows = null;
    if (allowanceCredits > 0) {
      const allowance = account.allowanceFor(family, admissionLimits.allowanceBucketsPerWindow);
      if (allowance !== null) {
        windows = allowance.windows;
        for (const w of windows) w.add(decidedAtMs, nowMs, allowanceCredits);
      }
    }
    const record = new AdmissionRecord(admissionId, account, user, decidedAtMs, expiresAtMs, estimatedCredits, allowanceCredits, windows, heldCredits);
    if (admissionId > this.maxTrackedId) this.maxTrackedId = admissionId;
    user.addSlot(record);
    account.openAdmissions++;
    this.records.set(admissionId, record);
    this.expiries.push(record);
    if (record.holdCounting) {
      account.addUnreflectedHold(record);
      const reservedVersion = this.earlyReservations.get(admissionId);
      if (reservedVersion !== undefined) {
        this.earlyReservations.delete(admissionId);
        record.reservedVersion = reservedVersion;
        if (account.balanceVersion >= reservedVersion) this.endHold(record);
      }
    }
  }

  /**
   * The tracking part of AdmissionState.replayDecision, once the decision's account and user exist and
   * its rate counters are charged: records its slot, hold and allowance usage, or, when its reservation
   * is over and no completion is known, only its allowance usage (remembered as a late decision).
   */
  replay(
    account: AccountState,
    user: UserState,
    event: ReplayableDecision,
    family: string,
    expiresAtMs: number,
    allowanceCredits: number,
    nowMs: number,
  ): ApplyResult {
    const completed = this.earlyCompletions.get(event.admissionId);
    // A completed request's hold outlives its reservation until the ledger's balance reflects the settlement (see
    // expire), so one whose completion came first (a standby reads completions and decisions from different topics) is
    // tracked even when its reservation is over, and ends as it would have here live.
    if (expiresAtMs <= nowMs && completed === undefined) {
      // Too old to hold anything, unless its completion is read next: only its allowance usage counts.
      const allowance = account.allowanceFor(family, admissionLimits.allowanceBucketsPerWindow);
      if (allowance !== null) for (const w of allowance.windows) w.add(event.decidedAtMs, nowMs, allowanceCredits);
      const reservedVersion = this.earlyReservations.get(event.admissionId) ?? -1;
      this.earlyReservations.delete(event.admissionId);
      const late: LateDecision = {
        accountId: event.accountId,
        userId: event.userId,
        decidedAtMs: event.decidedAtMs,
        expiresAtMs,
        estimatedCredits: event.estimatedCredits,
        allowanceCredits,
        windows: allowance?.windows ?? null,
        heldCredits: event.heldCredits,
        reservedVersion,
      };
      remember(this.lateDecisions, event.admissionId, late, this.capacity.earlyReservationsMax);
      return 'applied';
    }
    if (this.records.size >= this.capacity.openAdmissionsMax) return 'capacity_exhausted';
    this.track(account, user, event.admissionId, family, event.decidedAtMs, nowMs, expiresAtMs, event.estimatedCredits, allowanceCredits, event.heldCredits);
    if (completed !== undefined) {
      this.earlyCompletions.delete(event.admissionId);
      this.applyCompletion(event.admissionId, completed, 'succeeded');
      if (expiresAtMs <= nowMs) this.expire(nowMs);
    }
    return 'applied';
  }

  /** See AdmissionState.revoke. */
  revoke(admissionId: string): boolean {
    const record = this.records.get(admissionId);
    if (record === undefined) return false;
    if (!record.completed && record.allowanceCredits > 0 && record.windows !== null) {
      for (const w of record.windows) w.correct(record.decidedAtMs, -record.allowanceCredits);
    }
    this.endHold(record);
    this.forget(record);
    return true;
  }

  /** Ends the account's holds whose reservation the ledger balance at `version` reflects, so none is counted twice. */
  endReflectedHolds(account: AccountState, version: number): void {
    for (let record = account.unreflectedHoldsHead; record !== null; ) {
      const next = record.holdNext; // read first: ending the hold unlinks the record
      if (record.reservedVersion >= 0 && record.reservedVersion <= version) {
        this.endHold(record);
        if (!record.slotHeld) this.forget(record);
      }
      record = next;
    }
  }

  /** See AdmissionState.applyLedgerReserved. */
  applyLedgerReserved(admissionId: string, version: number): ApplyResult {
    if (!Number.isSafeInteger(version) || version < 0) return 'invalid';
    const record = this.records.get(admissionId);
    if (record === undefined) {
      remember(this.earlyReservations, admissionId, version, this.capacity.earlyReservationsMax);
      return 'deferred';
    }
    if (record.reservedVersion >= 0 && record.reservedVersion <= version) return 'stale';
    record.reservedVersion = version;
    if (record.holdCounting && record.account.balanceVersion >= version) {
      this.endHold(record);
      if (!record.slotHeld) this.forget(record);
    }
    return 'applied';
  }

  /** See AdmissionState.applyCompletion. */
  applyCompletion(admissionId: string, actualCredits: number, _status: CompletionStatus): CompletionOutcome {
    if (!validCredits(actualCredits)) return { outcome: 'invalid', admissionId, message: 'actualCredits must be a non-negative safe integer' };
    const record = this.records.get(admissionId);
    if (record === undefined || record.completed) {
      if (record === undefined) {
        const late = this.lateDecisions.get(admissionId);
        if (late !== undefined) return this.completeLate(admissionId, late, actualCredits);
        remember(this.earlyCompletions, admissionId, actualCredits, this.capacity.earlyReservationsMax);
      }
      return { outcome: 'unknown', admissionId };
    }
    record.completed = true;
    this.releaseSlot(record);
    const allowanceCredits = actualCredits < record.allowanceCredits ? actualCredits : record.allowanceCredits;
    const delta = allowanceCredits - record.allowanceCredits;
    if (delta !== 0 && record.windows !== null) for (const w of record.windows) w.correct(record.decidedAtMs, delta);
    if (!record.holdCounting) this.forget(record);
    return {
      outcome: 'completed',
      admissionId,
      accountId: record.account.accountId,
      estimatedCredits: record.estimatedCredits,
      actualCredits,
      allowanceCredits,
      creditsCharged: actualCredits - allowanceCredits,
      overshootCredits: actualCredits > record.estimatedCredits ? actualCredits - record.estimatedCredits : 0,
    };
  }

  /**
   * Ends every slot and hold whose reservation expired by nowMs. Returns how many admissions expired.
   *
   * A hold of a request that has not completed ends at its expiry, as the ledger's reservation does. A
   * completed request is different: the ledger settles it (charges it) rather than expiring it, so its
   * hold keeps counting past the expiry until the ledger's balance reflects it (bounded by
   * admissionLimits.unreflectedHoldGraceMs).
   */
  expire(nowMs: number): number {
    let expired = 0;
    for (let top = this.expiries.peek(); top !== undefined && top.dueAtMs <= nowMs; top = this.expiries.peek()) {
      if (top.completed && top.holdCounting && top.dueAtMs === top.expiresAtMs) {
        this.expiries.remove(top);
        top.dueAtMs = top.expiresAtMs + admissionLimits.unreflectedHoldGraceMs;
        this.expiries.push(top);
        continue;
      }
      if (!top.completed) this.rememberLate(top);
      this.endHold(top);
      this.forget(top);
      expired++;
    }
    return expired;
  }

  /**
   * The completion of an admission whose reservation ran out before this state knew of the completion: a standby, or a
   * new owner catching up, reads decisions and completions from two topics in no common order, and may read both after
   * the expiry. The request did complete, so the ledger charges it rather than expiring its hold: as live (see expire),
   * its hold counts again until the balance shows the charge, and its allowance usage becomes the actual cost.
   */
  private completeLate(admissionId: string, late: LateDecision, actualCredits: number): CompletionOutcome {
    this.lateDecisions.delete(admissionId);
    const account = this.accounts.get(late.accountId);
    const user = account?.users.get(late.userId);
    if (account === undefined || user === undefined || this.records.size >= this.capacity.openAdmissionsMax) return { outcome: 'unknown', admissionId };
    // The allowance usage is in the windows already: corrected here to the actual cost, not recorded again.
    const allowanceCredits = actualCredits < late.allowanceCredits ? actualCredits : late.allowanceCredits;
    if (late.windows !== null && allowanceCredits !== late.allowanceCredits) for (const w of late.windows) w.correct(late.decidedAtMs, allowanceCredits - late.allowanceCredits);
    this.track(account, user, admissionId, '', late.decidedAtMs, late.expiresAtMs, late.expiresAtMs, late.estimatedCredits, 0, late.heldCredits);
    const record = this.records.get(admissionId);
    if (record !== undefined && late.reservedVersion >= 0) this.applyLedgerReserved(admissionId, late.reservedVersion);
    this.applyCompletion(admissionId, actualCredits, 'succeeded');
    // Past its reservation expiry: the hold now counts until the balance shows the charge, as for any completed request.
    this.expire(late.expiresAtMs);
    return {
      outcome: 'completed',
      admissionId,
      accountId: late.accountId,
      estimatedCredits: late.estimatedCredits,
      actualCredits,
      allowanceCredits,
      creditsCharged: actualCredits - allowanceCredits,
      overshootCredits: actualCredits > late.estimatedCredits ? actualCredits - late.estimatedCredits : 0,
    };
  }

  private rememberLate(record: AdmissionRecord): void {
    const late: LateDecision = {
      accountId: record.account.accountId,
      userId: record.user.userId,
      decidedAtMs: record.decidedAtMs,
      expiresAtMs: record.expiresAtMs,
      estimatedCredits: record.estimatedCredits,
      allowanceCredits: record.allowanceCredits,
      windows: record.windows,
      heldCredits: record.heldCredits,
      reservedVersion: record.reservedVersion,
    };
    remember(this.lateDecisions, record.admissionId, late, this.capacity.earlyReservationsMax);
  }

  private endHold(record: AdmissionRecord): void {
    if (!record.holdCounting) return;
    record.holdCounting = false;
    record.account.removeUnreflectedHold(record);
  }

  private releaseSlot(record: AdmissionRecord): void {
    if (!record.slotHeld) return;
    record.slotHeld = false;
    record.user.removeSlot(record);
  }

  private forget(record: AdmissionRecord): void {
    if (this.records.get(record.admissionId) !== record) return;
    this.releaseSlot(record);
    this.records.delete(record.admissionId);
    this.expiries.remove(record);
    record.account.openAdmissions--;
  }
}

export function validCredits(credits: number): boolean {
  return Number.isSafeInteger(credits) && credits >= 0;
}

/** What completeLate needs of an admission whose reservation ran out with no completion known. */
interface LateDecision {
  readonly accountId: string;
  readonly userId: string;
  readonly decidedAtMs: number;
  readonly expiresAtMs: number;
  readonly estimatedCredits: number;
  readonly allowanceCredits: number;
  /** The windows its allowance usage is recorded in. */
  readonly windows: readonly RollingWindow[] | null;
  readonly heldCredits: number;
  /** The ledger position of its reservation, or -1. */
  readonly reservedVersion: number;
}

/** Adds to a bounded first-in-first-out memo, evicting the oldest entry when full. */
function remember<V>(memo: Map<string, V>, key: string, value: V, max: number): void {
  memo.delete(key);
  if (memo.size >= max) {
    const oldest = memo.keys().next();
    if (!oldest.done) memo.delete(oldest.value);
  }
  memo.set(key, value);
}
