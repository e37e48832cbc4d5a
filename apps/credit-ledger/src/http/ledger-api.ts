/**
 * What the ledger's HTTP endpoints do, apart from HTTP: every write is a domain command through the store's
 * one append path (the same optimistic concurrency as the consumers), and every outcome of the decider maps to
 * one answer. Expected outcomes are values; only `toProblem` (called by the controller) turns them into
 * problem+json.
 */
import type { PlansConfig } from '@access/catalog';
import type { CreditAccountCommand, CreditAccountEvent, DecideResult, Rejection } from '@access/credit-ledger-domain';
import { toBalanceView } from '@access/credit-ledger-domain';
import type { LedgerStore, PlanGrantScheduler, StoredEvent } from '@access/credit-ledger-adapters';
import { ProblemException } from '@access/platform-http';
import type { AdjustmentBody, GrantBody } from './schemas';

export type Answer = { status: number; body: unknown };

/** Which request field a domain rejection is about, for the problem's `errors`. */
const rejectionPath: Record<Rejection, string> = {
  account_not_open: 'accountId',
  invalid_id: '(body)',
  invalid_text: 'reason',
  invalid_amount: 'credits',
  invalid_priority: 'priority',
  invalid_source: 'source',
  invalid_time: 'expiresAt',
  reservation_not_found: 'admissionId',
  limit_exceeded: '(body)',
};

export class LedgerApi {
  constructor(
    private readonly store: LedgerStore,
    private readonly plans: PlansConfig,
    private readonly scheduler: PlanGrantScheduler,
    private readonly clock: () => number = Date.now,
  ) {}

  private now(): string {
    return new Date(this.clock()).toISOString();
  }

  async putAccount(accountId: string, plan: string): Promise<Answer> {
    if (!this.plans.plans.has(plan)) {
      const known = [...this.plans.plans.keys()].join(', ');
      throw ProblemException.of(400, 'LEDGER.INVALID_REQUEST', `Unknown plan ${JSON.stringify(plan)}; one of ${known}.`, {
        errors: [{ path: 'plan', message: `must be one of ${known}` }],
      });
    }
    const now = this.now();
    const { outcomes } = await this.store.execute([
      {
        accountId,
        causationId: 'http:put-account',
        command: (state): CreditAccountCommand =>
          state.status === 'open' ? { type: 'changePlan', data: { plan }, metadata: { now } } : { type: 'openAccount', data: { plan }, metadata: { now } },
      },
    ]);
    const outcome = outcomes[0]!;
    const result = outcome.result!;
    if (result.kind !== 'accepted' && result.kind !== 'exists') throw toProblem(result);
    if (result.kind === 'accepted') await this.scheduler.grantFor(accountId);
    const opened = result.kind === 'accepted' && result.events.some((e) => e.type === 'account_opened');
    return { status: opened ? 201 : 200, body: await this.balanceBody(accountId) };
  }

  async balance(accountId: string): Promise<Answer> {
    return { status: 200, body: await this.balanceBody(accountId) };
  }

  private async balanceBody(accountId: string) {
    const state = await this.store.state(accountId);
    if (state.status !== 'open') throw notFound(accountId);
    // As of now: grants that became effective count, and what has come due is shown expired, as the next
    // command on the account would record it (lazy expiry); `version` stays the recorded one.
    const view = toBalanceView(state, this.now());
    return {
      accountId,
      plan: view.plan,
      balanceCredits: view.balanceCredits,
      heldCredits: view.heldCredits,
      availableCredits: view.availableCredits,
      pendingCredits: view.pendingCredits,
      overshootCredits: view.overshootCredits,
      grants: view.grants,
      version: view.version,
      asOf: view.asOf,
    };
  }

  async grant(accountId: string, body: GrantBody): Promise<Answer> {
    const result = await this.decideOne(accountId, `http:grant:${body.grantId}`, {
      type: 'grant',
      data: {
        grantId: body.grantId,
        credits: body.credits,
        source: body.source,
        ...(body.priority === undefined ? {} : { priority: body.priority }),
        ...(body.effectiveAt === undefined ? {} : { effectiveAt: body.effectiveAt }),
        ...(body.expiresAt === undefined ? {} : { expiresAt: body.expiresAt }),
      },
      metadata: { now: this.now() },
    });
    const recorded = recordedEvent(result, 'credits_granted');
    if (recorded?.type !== 'credits_granted') throw toProblem(result);
    const d = recorded.data;
    return {
      status: result.kind === 'accepted' ? 201 : 200,
      body: { accountId, grantId: d.grantId, credits: d.credits, source: d.source, priority: d.priority, effectiveAt: d.effectiveAt, expiresAt: d.expiresAt, recordedAt: recorded.occurredAt },
    };
  }

  async adjust(accountId: string, body: AdjustmentBody): Promise<Answer> {
    const result = await this.decideOne(accountId, `http:adjustment:${body.adjustmentId}`, {
      type: 'adjust',
      data: { adjustmentId: body.adjustmentId, credits: body.credits, reason: body.reason },
      metadata: { now: this.now() },
    });
    const recorded = recordedEvent(result, 'credits_adjusted');
    if (recorded?.type !== 'credits_adjusted') throw toProblem(result);
    const d = recorded.data;
    return {
      status: result.kind === 'accepted' ? 201 : 200,
      body: { accountId, adjustmentId: d.adjustmentId, credits: d.credits, reason: d.reason, recordedAt: recorded.occurredAt },
    };
  }

  async events(accountId: string, afterVersion: number, limit: number): Promise<Answer> {
    const events = await this.store.events(accountId, afterVersion, limit);
    if (events.length === 0 && (await this.store.state(accountId)).status !== 'open') throw notFound(accountId);
    return {
      status: 200,
      body: {
        accountId,
        events: events.map((e: StoredEvent) => ({ version: e.version, type: `ledger.${e.event.type}`, id: e.id, occurredAt: e.event.occurredAt, data: e.event.data })),
        nextAfterVersion: events.at(-1)?.version ?? afterVersion,
      },
    };
  }

  private async decideOne(accountId: string, causationId: string, command: CreditAccountCommand): Promise<DecideResult> {
    const { outcomes } = await this.store.execute([{ accountId, causationId, command }]);
    return outcomes[0]!.result!;
  }
}

/** The event a grant or adjustment recorded: the new one, or the first one for a repeated id with the same body. */
function recordedEvent(result: DecideResult, type: 'credits_granted' | 'credits_adjusted'): CreditAccountEvent | undefined {
  if (result.kind === 'accepted') return result.events.find((e) => e.type === type);
  if (result.kind === 'exists') return result.first;
  return undefined;
}

function notFound(accountId: string): ProblemException {
  return ProblemException.of(404, 'LEDGER.ACCOUNT_NOT_FOUND', `No account ${accountId}; open it with PUT /v1/accounts/${accountId}.`);
}

export function toProblem(result: DecideResult): ProblemException {
  switch (result.kind) {
    case 'conflict':
      return ProblemException.of(409, 'LEDGER.CONFLICT', result.detail, { existing: result.first.data });
    case 'rejected':
      if (result.reason === 'account_not_open') return ProblemException.of(404, 'LEDGER.ACCOUNT_NOT_FOUND', result.detail);
      if (result.reason === 'limit_exceeded') return ProblemException.of(422, 'LEDGER.LIMIT_EXCEEDED', result.detail);
      return ProblemException.of(400, 'LEDGER.INVALID_REQUEST', result.detail, { errors: [{ path: rejectionPath[result.reason], message: result.detail }] });
    case 'already_resolved':
      return ProblemException.of(409, 'LEDGER.CONFLICT', `already ${result.resolution}`);
    case 'accepted':
    case 'exists':
      return ProblemException.of(500, 'LEDGER.UNEXPECTED', `unexpected outcome ${result.kind}`);
    default: {
      const _exhaustive: never = result;
      return _exhaustive;
    }
  }
}
