/**
 * The ledger's account use cases (the HTTP API's, apart from HTTP): every write is a domain command through the
 * store's one append path (the same optimistic concurrency as the consumers), and every outcome of the decider
 * maps to one answer. Expected outcomes are values: a failure carries a stable code, and only the HTTP edge
 * turns it into problem+json.
 */
import type { PlansConfig } from '@access/catalog';
import type { CreditAccountCommand, CreditAccountEvent, DecideResult, GrantSource, Rejection } from '@access/credit-ledger-domain';
import { toBalanceView } from '@access/credit-ledger-domain';
import type { PlanGrantScheduler } from './jobs';
import type { LedgerStorePort } from './ports';

export type LedgerFailureCode = 'LEDGER.INVALID_REQUEST' | 'LEDGER.ACCOUNT_NOT_FOUND' | 'LEDGER.CONFLICT' | 'LEDGER.LIMIT_EXCEEDED' | 'LEDGER.UNEXPECTED';

export interface LedgerFailure {
  readonly code: LedgerFailureCode;
  readonly detail: string;
  /** Which request fields the failure is about. */
  readonly errors?: readonly { readonly path: string; readonly message: string }[];
  /** For a conflict on an id: what that id recorded first. */
  readonly existing?: unknown;
}

/** A use case's answer: a body (`created` when this call recorded something new), or a failure. */
export type Answer = { readonly ok: true; readonly created: boolean; readonly body: unknown } | { readonly ok: false; readonly failure: LedgerFailure };

export interface GrantInput {
  readonly grantId: string;
  readonly credits: number;
  readonly source: GrantSource;
  readonly priority?: number | undefined;
  readonly effectiveAt?: string | undefined;
  readonly expiresAt?: string | null | undefined;
}

export interface AdjustmentInput {
  readonly adjustmentId: string;
  readonly credits: number;
  readonly reason: string;
}

const ok = (body: unknown, created = false): Answer => ({ ok: true, created, body });
const failed = (failure: LedgerFailure): Answer => ({ ok: false, failure });

/** Which request field a domain rejection is about, for the failure's `errors`. */
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

export class AccountUseCases {
  constructor(
    private readonly store: LedgerStorePort,
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
      return failed({ code: 'LEDGER.INVALID_REQUEST', detail: `Unknown plan ${JSON.stringify(plan)}; one of ${known}.`, errors: [{ path: 'plan', message: `must be one of ${known}` }] });
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
    if (result.kind !== 'accepted' && result.kind !== 'exists') return failed(failureOf(result));
    if (result.kind === 'accepted') await this.scheduler.grantFor(accountId);
    const opened = result.kind === 'accepted' && result.events.some((e) => e.type === 'account_opened');
    return this.balanceAnswer(accountId, opened);
  }

  balance(accountId: string): Promise<Answer> {
    return this.balanceAnswer(accountId, false);
  }

  private async balanceAnswer(accountId: string, created: boolean): Promise<Answer> {
    const state = await this.store.state(accountId);
    if (state.status !== 'open') return failed(notFound(accountId));
    // As of now: grants that became effective count, and what has come due is shown expired, as the next
    // command on the account would record it (lazy expiry); `version` stays the recorded one.
    const view = toBalanceView(state, this.now());
    return ok({
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
    }, created);
  }

  async grant(accountId: string, body: GrantInput): Promise<Answer> {
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
    if (recorded?.type !== 'credits_granted') return failed(failureOf(result));
    const d = recorded.data;
    return ok(
      { accountId, grantId: d.grantId, credits: d.credits, source: d.source, priority: d.priority, effectiveAt: d.effectiveAt, expiresAt: d.expiresAt, recordedAt: recorded.occurredAt },
      result.kind === 'accepted',
    );
  }

  async adjust(accountId: string, body: AdjustmentInput): Promise<Answer> {
    const result = await this.decideOne(accountId, `http:adjustment:${body.adjustmentId}`, {
      type: 'adjust',
      data: { adjustmentId: body.adjustmentId, credits: body.credits, reason: body.reason },
      metadata: { now: this.now() },
    });
    const recorded = recordedEvent(result, 'credits_adjusted');
    if (recorded?.type !== 'credits_adjusted') return failed(failureOf(result));
    const d = recorded.data;
    return ok({ accountId, adjustmentId: d.adjustmentId, credits: d.credits, reason: d.reason, recordedAt: recorded.occurredAt }, result.kind === 'accepted');
  }

  async events(accountId: string, afterVersion: number, limit: number): Promise<Answer> {
    const events = await this.store.events(accountId, afterVersion, limit);
    if (events.length === 0 && (await this.store.state(accountId)).status !== 'open') return failed(notFound(accountId));
    return ok({
      accountId,
      events: events.map((e) => ({ version: e.version, type: `ledger.${e.event.type}`, id: e.id, occurredAt: e.event.occurredAt, data: e.event.data })),
      nextAfterVersion: events.at(-1)?.version ?? afterVersion,
    });
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

function notFound(accountId: string): LedgerFailure {
  return { code: 'LEDGER.ACCOUNT_NOT_FOUND', detail: `No account ${accountId}; open it with PUT /v1/accounts/${accountId}.` };
}

/** The failure a decider outcome other than `accepted` or `exists` stands for. */
export function failureOf(result: DecideResult): LedgerFailure {
  switch (result.kind) {
    case 'conflict':
      return { code: 'LEDGER.CONFLICT', detail: result.detail, existing: result.first.data };
    case 'rejected':
      if (result.reason === 'account_not_open') return { code: 'LEDGER.ACCOUNT_NOT_FOUND', detail: result.detail };
      if (result.reason === 'limit_exceeded') return { code: 'LEDGER.LIMIT_EXCEEDED', detail: result.detail };
      return { code: 'LEDGER.INVALID_REQUEST', detail: result.detail, errors: [{ path: rejectionPath[result.reason], message: result.detail }] };
    case 'already_resolved':
      return { code: 'LEDGER.CONFLICT', detail: `already ${result.resolution}` };
    case 'accepted':
    case 'exists':
      return { code: 'LEDGER.UNEXPECTED', detail: `unexpected outcome ${result.kind}` };
    default: {
      const _exhaustive: never = result;
      return _exhaustive;
    }
  }
}
