import type { AllowanceWindow, Plan } from '@access/catalog';
import type { Expiring } from './expiry-heap';
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

  addSlot(record: AdmissionRecord): void {
    const slots = this.slots;
    let i = slots.length;
    while (i > 0 && (slots[i - 1] as AdmissionRecord).expiresAtMs > record.expiresAtMs) i--;
    if (i === slots.length) slots.push(record);
    else slots.splice(i, 0, record);
  }

  removeSlot(record: AdmissionRecord): void {
    const i = this.slots.indexOf(record);
    if (i >= 0) this.slots.splice(i, 1);
  }

  /** When `count` slots will have been released by their expiry (a completion can only free one sooner). */
  slotsFreedAtMs(count: number): number {
    const slot = this.slots[Math.min(count, this.slots.length) - 1];
    return slot === undefined ? 0 : slot.expiresAtMs;
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
  /** Σ heldCredits of admissions in `unreflectedHolds`. */
  unreflectedHeldCredits = 0;
  /** Holds admission issued that the ledger balance seen does not yet include. */
  readonly unreflectedHolds = new Set<AdmissionRecord>();
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
    return created;
  }

  /**
   * Switches plan. Windows of the same family and length keep their usage (a plan change does not
   * hand out a fresh allowance); others start empty.
   */
  changePlan(plan: Plan | null, planName: string, bucketsPerWindow: number): void {
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
export class AdmissionRecord implements Expiring {
  heapIndex = -1;
  /**
   * When the expiry heap next looks at this record: its reservation expiry, or, for a completed request
   * whose hold the ledger has not reflected yet, that plus admissionLimits.unreflectedHoldGraceMs.
   */
  dueAtMs: number;
  /** The ledger position of this admission's `credits_reserved`, once known. */
  reservedVersion = -1;
  holdCounting: boolean;
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
