/**
 * The ledger's own clock-driven work, both through the store's one append path:
 *
 * - `ExpiryJob`: every command already records what has come due on its account (lazy expiry, see the
 *   domain README), so this job only reaches the accounts nothing touches: it finds reservations and grants
 *   whose expiry has passed in the projections and runs `expireDue` on their accounts.
 * - `PlanGrantScheduler`: grants each account on a plan with credits its plan's grant for the current period
 *   (`YYYY-MM`, UTC), idempotently: the grant id is derived from plan and period, so running it twice, or on
 *   two instances, grants once.
 */
import type { PlansConfig } from '@access/catalog';
import type { CreditAccountCommand } from '@access/credit-ledger-domain';
import { planPeriodGrantId } from '@access/credit-ledger-domain';
import type { LedgerStorePort } from './ports';

export class ExpiryJob {
  constructor(
    private readonly store: LedgerStorePort,
    private readonly clock: () => number = Date.now,
  ) {}

  /** One round: returns the accounts examined and the events appended. */
  async runOnce(): Promise<{ accounts: number; events: number }> {
    const now = new Date(this.clock()).toISOString();
    const limit = this.store.limits.expiryAccountsPerRoundMax;
    const accountIds = await this.store.accountsWithExpiryDue(now, limit);
    if (accountIds.length === 0) return { accounts: 0, events: 0 };
    const command: CreditAccountCommand = { type: 'expireDue', data: {}, metadata: { now } };
    const result = await this.store.execute(accountIds.map((accountId) => ({ accountId, command, causationId: 'expiry-job' })));
    return { accounts: accountIds.length, events: result.appendedEvents };
  }

  /** Drops the allowance parts of decisions older than `retentionMs` (their completions are long settled). */
  async pruneAllowances(retentionMs: number): Promise<number> {
    const before = new Date(this.clock() - retentionMs).toISOString();
    return this.store.pruneAllowances(before, this.store.limits.expiryAccountsPerRoundMax);
  }
}

/** `YYYY-MM` of an instant, in UTC: the key of a monthly plan period. */
export function monthlyPeriodKey(ms: number): string {
  return new Date(ms).toISOString().slice(0, 7);
}

export class PlanGrantScheduler {
  /** Grant ids found to exist already this period (e.g. after a plan went and came back): not asked again. */
  private known = new Set<string>();
  private knownPeriod = '';

  constructor(
    private readonly store: LedgerStorePort,
    private readonly plans: PlansConfig,
    private readonly clock: () => number = Date.now,
  ) {}

  /** One round over every plan that grants credits. Returns the grants recorded. */
  async runOnce(): Promise<number> {
    const periodKey = this.period();
    let granted = 0;
    for (const plan of this.plans.plans.values()) {
      if (plan.grant.creditsPerPeriod <= 0) continue;
      const grantId = planPeriodGrantId(plan.name, periodKey);
      const missing = await this.store.accountsMissingPlanGrant(plan.name, grantId, this.store.limits.planGrantAccountsPerRoundMax);
      const accounts = missing.filter((a) => !this.known.has(`${a}|${grantId}`));
      granted += await this.grant(accounts);
    }
    return granted;
  }

  /** Grants the current period to one account (right after it opens or changes plan). */
  async grantFor(accountId: string): Promise<number> {
    return this.grant([accountId]);
  }

  private async grant(accountIds: readonly string[]): Promise<number> {
    if (accountIds.length === 0) return 0;
    const nowMs = this.clock();
    const now = new Date(nowMs).toISOString();
    const periodKey = this.period();
    const result = await this.store.execute(
      accountIds.map((accountId) => ({
        accountId,
        causationId: `plan-grant:${periodKey}`,
        command: (state) => {
          const plan = state.plan === null ? undefined : this.plans.plans.get(state.plan);
          if (plan === undefined || plan.grant.creditsPerPeriod <= 0) return null;
          return {
            type: 'grantPlanPeriod',
            data: {
              planId: plan.name,
              periodKey,
              credits: plan.grant.creditsPerPeriod,
              rolloverCapCredits: plan.grant.rolloverCapCredits,
              // Plan credits do not expire on their own: the rollover cap bounds what a new period carries over.
              expiresAt: null,
            },
            metadata: { now },
          } satisfies CreditAccountCommand;
        },
      })),
    );
    let granted = 0;
    for (const outcome of result.outcomes) {
      if (outcome.result?.kind === 'accepted') granted += 1;
      else if (outcome.command?.type === 'grantPlanPeriod') {
        this.known.add(`${outcome.item.accountId}|${planPeriodGrantId(outcome.command.data.planId, periodKey)}`);
      }
    }
    return granted;
  }

  private period(): string {
    const periodKey = monthlyPeriodKey(this.clock());
    if (periodKey !== this.knownPeriod) {
      this.known = new Set();
      this.knownPeriod = periodKey;
    }
    return periodKey;
  }
}
