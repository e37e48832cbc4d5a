import type { AllowanceWindow, Plan } from '@access/catalog';
import type { Queued } from './expiry-queue';
import { RollingWindow } from './rolling-window';

/**
 * The mutable in-memory state behind AdmissionState. Internal to this library: the public API is the
 * methods of AdmissionState, which keep these structures consistent with each other.
 */

export class UserState {
  /** Per-user requests-per-minute cell (see gcra.ts). */
  rpmAtMs = 0;
  rpmDebt = 0;
  /**
   * Admissions holding a concurrency slot, sorted by reservation expiry (appended in time order, so
   * insertion is almost always at the end), so the k-th slot to free up is slots[k - 1] without
   * touching the records. Bounded by the effective concurrency limit.
   */
  readonly slots: AdmissionRecord[] = [];
  /**
   * slots.length and slots[0].expiresAtMs, kept on the user itself: the admitted path reads them for
   * every decision, and reading them here costs no extra cache miss (the array and the record are
   * elsewhere in memory; with many users they are rarely in cache).
   */
  slotCount = 0;
  firstSlotExpiresAtMs = 0;
  lastSlotExpiresAtMs = 0;

  addSlot(record: AdmissionRecord): void {
    const slots = this.slots;
    let i = slots.length;
    // Usually the newest slot expires last: append without reading the last record (a cache miss).
    if (i > 0 && record.expiresAtMs < this.lastSlotExpiresAtMs) {
      while (i > 0 && (slots[i - 1] as AdmissionRecord).expiresAtMs > record.expiresAtMs) i--;
    }
    if (i === slots.length) slots.push(record);
    else slots.splice(i, 0, record);
    this.slotCount = slots.length;
    if (i === 0) this.firstSlotExpiresAtMs = record.expiresAtMs;
    if (i === slots.length - 1) this.lastSlotExpiresAtMs = record.expiresAtMs;
  }

  removeSlot(record: AdmissionRecord): void {
    const i = this.slots.indexOf(record);
    if (i < 0) return;
    this.slots.splice(i, 1);
    this.slotCount = this.slots.length;
    if (i === 0) this.firstSlotExpiresAtMs = this.slots[0]?.expiresAtMs ?? 0;
    if (i === this.slots.length) this.lastSlotExpiresAtMs = this.slots[i - 1]?.expiresAtMs ?? 0;
  }

  /** When `count` slots will have been released by their expiry (a completion can only free one sooner). */
  slotsFreedAtMs(count: number): number {
    const k = Math.min(count, this.slotCount);
    if (k <= 0) return 0;
    if (k === 1) return this.firstSlotExpiresAtMs;
    return (this.slots[k - 1] as AdmissionRecord).expiresAtMs;
  }
  reputation = 1;

  constructor(readonly userId: string) {}
}

/** One family's allowance windows for one account, aligned with the plan's windows for that family. */
export interface FamilyAllowance {
  readonly specs: readonly AllowanceWindow[];
  readonly windows: readonly RollingWindow[];
}

export class AccountState {
  /** Null when the ledger names a plan this instance's plans.yaml does not have. */
  plan: Plan | null;
  planName: string;
  /** -1 until the ledger's first `balance_changed` arrives. */
  balanceVersion = -1;
  /** As last seen from the ledger (may be negative after an overshoot). */
  ledgerAvailableCredits = 0;
  /** Σ heldCredits of the admissions in the unreflected-holds list. */
  unreflectedHeldCredits = 0;
  /**
   * Holds admission issued that the ledger balance seen does not yet include: a doubly linked list
   * through the records (holdPrev / holdNext). Adding and removing touch only the records involved,
   * where a Set would also touch its hash table (a cache miss per operation at many accounts).
   */
  unreflectedHoldsHead: AdmissionRecord | null = null;
  /** Per-account credits-per-minute cell (see gcra.ts). */
  creditsAtMs = 0;
  creditsDebt = 0;
  readonly allowance = new Map<string, FamilyAllowance>();
  readonly users = new Map<string, UserState>();
  /** Tracked admissions of this account; while any exist the account is never compacted. */
  openAdmissions = 0;

  constructor(
    readonly accountId: string,
    plan: Plan | null,
    planName: string,
  ) {
    this.plan = plan;
    this.planName = planName;
  }

  addUnreflectedHold(record: AdmissionRecord): void {
    record.holdPrev = null;
    record.holdNext = this.unreflectedHoldsHead;
    if (this.unreflectedHoldsHead !== null) this.unreflectedHoldsHead.holdPrev = record;
    this.unreflectedHoldsHead = record;
    this.unreflectedHeldCredits += record.heldCredits;
  }

  removeUnreflectedHold(record: AdmissionRecord): void {
    if (record.holdPrev !== null) record.holdPrev.holdNext = record.holdNext;
    else if (this.unreflectedHoldsHead === record) this.unreflectedHoldsHead = record.holdNext;
    else return; // not in the list
    if (record.holdNext !== null) record.holdNext.holdPrev = record.holdPrev;
    record.holdPrev = null;
    record.holdNext = null;
    this.unreflectedHeldCredits -= record.heldCredits;
  }

  /** The family's windows if they exist (a one-entry cache spares the map lookup when a family repeats). */
  allowanceOf(family: string): FamilyAllowance | null {
    if (family === this.lastFamily) return this.lastAllowance;
    const found = this.allowance.get(family) ?? null;
    this.lastFamily = family;
    this.lastAllowance = found;
    return found;
  }

  private lastFamily = '';
  private lastAllowance: FamilyAllowance | null = null;

  /** Credits the credits layer may hold: the ledger's available minus holds it does not reflect yet. */
  get availableCredits(): number {
    return this.ledgerAvailableCredits - this.unreflectedHeldCredits;
  }

  /** The family's windows, created on first use with the plan's specs. */
  allowanceFor(family: string, bucketsPerWindow: number): FamilyAllowance | null {
    const existing = this.allowance.get(family);
    if (existing !== undefined) return existing;
    const specs = this.plan?.allowanceByFamily.get(family);
    if (specs === undefined || specs.length === 0) return null;
    const created: FamilyAllowance = { specs, windows: specs.map((s) => new RollingWindow(s.windowMs, bucketsPerWindow)) };
    this.allowance.set(family, created);
    this.lastFamily = '';
    return created;
  }

  /**
   * Switches plan. Windows of the same family and length keep their usage (a plan change does not
   * hand out a fresh allowance); others start empty.
   */
  changePlan(plan: Plan | null, planName: string, bucketsPerWindow: number): void {
    this.lastFamily = '';
    this.lastAllowance = null;
    this.plan = plan;
    this.planName = planName;
    for (const [family, old] of [...this.allowance]) {
      const specs = plan?.allowanceByFamily.get(family);
      if (specs === undefined || specs.length === 0) {
        this.allowance.delete(family);
        continue;
      }
      const windows = specs.map((s) => old.windows.find((w) => w.windowMs === s.windowMs) ?? new RollingWindow(s.windowMs, bucketsPerWindow));
      this.allowance.set(family, { specs, windows });
    }
  }
}

/** An admitted request that still matters: it holds a concurrency slot, or a hold the ledger has not reflected. */
export class AdmissionRecord implements Queued {
  heapIndex = -1;
  lane = -1;
  /**
   * When the expiry heap next looks at this record: its reservation expiry, or, for a completed request
   * whose hold the ledger has not reflected yet, that plus admissionLimits.unreflectedHoldGraceMs.
   */
  dueAtMs: number;
  /** The ledger position of this admission's `credits_reserved`, once known. */
  reservedVersion = -1;
  holdCounting: boolean;
  /** Links of the account's unreflected-holds list (see AccountState). */
  holdPrev: AdmissionRecord | null = null;
  holdNext: AdmissionRecord | null = null;
  slotHeld: boolean;
  completed = false;

  constructor(
    readonly admissionId: string,
    readonly account: AccountState,
    readonly user: UserState,
    readonly decidedAtMs: number,
    readonly expiresAtMs: number,
    readonly estimatedCredits: number,
    readonly allowanceCredits: number,
    /** The windows the allowance part was recorded in, for correction at completion. */
    readonly windows: readonly RollingWindow[] | null,
    readonly heldCredits: number,
  ) {
    this.holdCounting = heldCredits > 0;
    this.slotHeld = true;
    this.dueAtMs = expiresAtMs;
  }
}
