import { AdmissionState, type AdmissionError, type AdmissionRequest, type AdmissionOptions, type ApplyResult } from '@access/admission-domain';
import { priceRequest, type Catalog } from '@access/catalog';
import type {
  AdmissionDecidedV1,
  BalanceChangedV1,
  LimitsAdjustedV1,
  ReputationChangedV1,
  UsageRequestCompletedV1,
} from '@access/contracts';
import { randomInt } from 'node:crypto';
import { AnswerCodec } from './answer-codec';
import { ExpiringMemo } from './bounded-memo';
import type { DecisionAnswer } from './decision-answer';
import { decidedEventData, replayableOf } from './decision-event';
import { fingerprintDigest } from './fingerprint';
import { IdempotencyStore, type PendingDecision } from './idempotency-store';
import { admissionServiceLimits, type AdmissionServiceLimits } from './limits';
import { isNotOwnerError, type Clock, type DecisionSink, type IdSource, type Ownership, type ServiceObserver } from './ports';
import { ReplayLog, type ReplayItem } from './replay-log';

/**
 * One admission request as the HTTP edge hands it over after validating the body (priority defaulted): the
 * domain's request before the service gives it its admissionId.
 */
export type AdmissionInput = Omit<AdmissionRequest, 'admissionId'>;

export type AdmitOutcome =
  /** Admitted (durable) or rejected, decided now. */
  | { readonly kind: 'decided'; readonly event: AdmissionDecidedV1; readonly replayed: false }
  /** The first decision of the same requestId and body again: what its answer is made of (idempotency keeps no more). */
  | { readonly kind: 'decided'; readonly event: DecisionAnswer; readonly replayed: true }
  /** Invalid input (unknown model, bad estimate, priority the plan may not use, …): nothing changed. */
  | { readonly kind: 'invalid'; readonly error: AdmissionError }
  /** The requestId was already decided with a different body. */
  | { readonly kind: 'conflict'; readonly requestId: string; readonly admissionId: string | null }
  /** State is still being rebuilt after a start: deciding now could forget someone's usage. */
  | { readonly kind: 'not_ready' }
  /** Another replica owns the account's partition (or this one just lost it): nothing was decided here. */
  | { readonly kind: 'not_owner' }
  /** The admitted decision could not be made durable; it was undone. */
  | { readonly kind: 'unavailable'; readonly detail: string };

export type CompleteOutcome =
  | { readonly kind: 'accepted'; readonly duplicate: boolean }
  | { readonly kind: 'invalid'; readonly path: string; readonly message: string }
  | { readonly kind: 'not_ready' }
  | { readonly kind: 'not_owner' }
  | { readonly kind: 'unavailable'; readonly detail: string };

export interface AdmissionServiceDeps {
  readonly catalog: Catalog;
  readonly sink: DecisionSink;
  readonly clock: Clock;
  readonly ids: IdSource;
  readonly observer?: ServiceObserver;
  /** Which accounts this replica decides for; a lone instance (the default) owns them all. */
  readonly ownership?: Ownership;
  readonly limits?: Partial<AdmissionServiceLimits>;
  readonly domainOptions?: Partial<AdmissionOptions>;
  /** Seeds the request fingerprints' digest; random per process by default (fingerprint.ts says why). */
  readonly fingerprintSeed?: number;
}

const NOT_READY = { kind: 'not_ready' } as const;
const NOT_OWNER = { kind: 'not_owner' } as const;
const OWNS_ALL: Ownership = { owns: () => true };

/**
 * The idempotency key: CONTRACTS.md scopes a requestId to its account, so two accounts' `req-42` are two requests.
 * A space cannot occur in either id (`^[A-Za-z0-9_.:-]+$`), so the pair maps to one key and back.
 */
export function idempotencyKey(accountId: string, requestId: string): string {
  return `${accountId} ${requestId}`;
}
/** A completion the price book cannot price keeps all the allowance it used (min(actual, allowance part)). */
const UNPRICED_ACTUAL_CREDITS = Number.MAX_SAFE_INTEGER;

/**
 * The admission use cases around the pure domain: load (state arrives through the apply* methods and,
 * at start, the ordered replay), decide (synchronously, in AdmissionState), then write (the decision is
 * durable before an admitted answer is given). Idempotency by requestId lives here.
 *
 * Rejections are published without waiting: they feed analytics and reputation, nobody is charged for
 * them, and making a 429 wait on Kafka would let a flood of rejected traffic queue behind the broker.
 */
export class AdmissionService {
  readonly state: AdmissionState;
  private readonly catalog: Catalog;
  private readonly sink: DecisionSink;
  private readonly clock: Clock;
  private readonly ids: IdSource;
  private readonly observer: ServiceObserver;
  private readonly ownership: Ownership;
  private readonly idempotencyTtlMs: number;
  private readonly idempotency: IdempotencyStore<AdmitOutcome>;
  private readonly answers = new AnswerCodec();
  private readonly fingerprintSeed: number;
  private readonly completed: ExpiringMemo<true>;
  private readonly replayLog: ReplayLog;
  private ready = false;

  constructor(deps: AdmissionServiceDeps) {
    const limits = { ...admissionServiceLimits, ...deps.limits };
    this.catalog = deps.catalog;
    this.sink = deps.sink;
    this.clock = deps.clock;
    this.ids = deps.ids;
    this.observer = deps.observer ?? {};
    this.ownership = deps.ownership ?? OWNS_ALL;
    this.state = new AdmissionState({ plans: deps.catalog.plans, priceBook: deps.catalog.priceBook, options: deps.domainOptions });
    this.idempotencyTtlMs = deps.catalog.plans.defaults.idempotencyTtlMs;
    this.idempotency = new IdempotencyStore(limits.idempotencyEntriesMax, this.idempotencyTtlMs, (n) => this.observer.idempotencyEvicted?.(n));
    this.fingerprintSeed = deps.fingerprintSeed ?? randomInt(2 ** 32);
    this.completed = new ExpiringMemo(limits.completedIdsMax);
    this.replayLog = new ReplayLog(limits.replayEventsMax, (items) => this.applyReplay(items));
  }

  get isReady(): boolean {
    return this.ready;
  }

  get idempotencyEntries(): number {
    return this.idempotency.size;
  }

  // ------------------------------------------------------------------ use cases

  /** POST /v1/admissions. */
  async admit(input: AdmissionInput, traceparent?: string): Promise<AdmitOutcome> {
    if (!this.ready) return NOT_READY;
    // A standby's view of another owner's account may lag by what Kafka has not delivered yet: only the owner
    // decides, and only the owner answers from the idempotency cache.
    if (!this.ownership.owns(input.accountId)) return NOT_OWNER;
    const nowMs = this.clock.nowMs();
    const fingerprint = fingerprintDigest(input, this.fingerprintSeed);
    const key = idempotencyKey(input.accountId, input.requestId);
    const seen = this.idempotency.find(key, nowMs);
    if (seen.kind !== 'none') {
      if (this.idempotency.fingerprintOf(seen) !== fingerprint) {
        const admissionId = seen.kind === 'decided' ? this.answers.decode(seen.record, input.requestId).admissionId : null;
        return { kind: 'conflict', requestId: input.requestId, admissionId };
      }
      if (seen.kind === 'decided') return { kind: 'decided', event: this.answers.decode(seen.record, input.requestId), replayed: true };
      const first = await seen.pending.outcome;
      return first.kind === 'decided' ? { kind: 'decided', event: first.event, replayed: true } : first;
    }

    const admissionId = this.ids.next();
    const t0 = performance.now();
    const result = this.state.decide({ admissionId, ...input }, nowMs);
    const latencyUs = Math.round((performance.now() - t0) * 1000 * 10) / 10;
    if (result.decision === 'error') return { kind: 'invalid', error: result };
    const event = decidedEventData(result, input.estimate, latencyUs);

    if (event.decision === 'rejected') {
      // CONTRACTS.md: the same requestId and body returns the first decision unchanged, a rejection included
      // (a caller that retries after Retry-After sends a new requestId).
      const record = this.answers.encode(fingerprint, event);
      this.idempotency.remember(key, record, nowMs);
      this.sink.publishDecision(event, traceparent).catch((error: unknown) => {
        // A fenced replica's rejection never became the first decision: the owner decides that requestId afresh.
        if (isNotOwnerError(error)) this.idempotency.forget(key, record);
        this.observer.rejectedPublishFailed?.(error);
      });
      this.observer.decided?.('rejected', event.reason, false);
      return { kind: 'decided', event, replayed: false };
    }
    return this.publishAdmitted(key, fingerprint, event, traceparent);
  }

  /** An admitted decision is answered once durable; until then a retry with the same body waits for the same answer. */
  private publishAdmitted(key: string, fingerprint: string, event: AdmissionDecidedV1, traceparent: string | undefined): Promise<AdmitOutcome> {
    const outcome = this.sink.publishDecision(event, traceparent).then(
      (): AdmitOutcome => {
        this.idempotency.settlePending(key, pending, this.answers.encode(fingerprint, event), this.clock.nowMs());
        this.observer.decided?.('admitted', null, false);
        return { kind: 'decided', event, replayed: false };
      },
      (error: unknown): AdmitOutcome => {
        // Not durable, so the caller hears 503 and nobody will complete or settle it: give back its slot,
        // hold and allowance now, and forget the requestId so that a retry is decided afresh.
        this.state.revoke(event.admissionId);
        this.idempotency.dropPending(key, pending);
        // Fenced: another replica took the partition over and decides from here (the caller's request is routed there).
        if (isNotOwnerError(error)) return NOT_OWNER;
        this.observer.admittedPublishFailed?.(error);
        return { kind: 'unavailable', detail: 'the decision could not be made durable; retry' };
      },
    );
    const pending: PendingDecision<AdmitOutcome> = { fingerprint, outcome };
    this.idempotency.startPending(key, pending);
    return outcome;
  }

  /**
   * POST /v1/admissions/{id}/complete: publishes `usage.request_completed` (durable before the answer)
   * and applies it here (frees the slot, corrects the allowance to the actual cost). Twice is a no-op.
   */
  async complete(data: UsageRequestCompletedV1, traceparent?: string): Promise<CompleteOutcome> {
    if (!this.ready) return NOT_READY;
    // The owner frees the slot at once, as a lone instance would; anywhere else the slot would wait for Kafka.
    if (!this.ownership.owns(data.accountId)) return NOT_OWNER;
    const nowMs = this.clock.nowMs();
    if (this.completed.has(data.admissionId, nowMs)) return { kind: 'accepted', duplicate: true };
    const priced = priceRequest(this.catalog.priceBook, data.model, data.meters, data.dimensions);
    if (!priced.ok) return { kind: 'invalid', path: priced.error.path, message: priced.error.message };
    this.completed.set(data.admissionId, true, nowMs + this.idempotencyTtlMs, nowMs);
    try {
      await this.sink.publishCompletion(data, traceparent);
    } catch {
      this.completed.delete(data.admissionId);
      return { kind: 'unavailable', detail: 'the completion could not be made durable; retry' };
    }
    this.state.expire(this.clock.nowMs());
    this.state.applyCompletion(data.admissionId, priced.credits, data.status);
    return { kind: 'accepted', duplicate: false };
  }

  // ------------------------------------------------------------------ inputs from Kafka

  /** `usage.request_completed` consumed live (from callers that speak Kafka, or our own /complete). */
  applyCompleted(data: UsageRequestCompletedV1): 'applied' | 'duplicate' {
    const nowMs = this.clock.nowMs();
    if (this.completed.has(data.admissionId, nowMs)) return 'duplicate';
    this.completed.set(data.admissionId, true, nowMs + this.idempotencyTtlMs, nowMs);
    this.state.expire(nowMs);
    this.state.applyCompletion(data.admissionId, this.actualCredits(data), data.status);
    return 'applied';
  }

  /**
   * A decision another replica made (read live from `access.admissions.v1`): its effects are recorded as the restart
   * replay records them, so that this replica is a warm standby for that account's partition, and its answer is
   * remembered for idempotency in case the partition moves here.
   */
  applyDecided(data: AdmissionDecidedV1): ApplyResult {
    const nowMs = this.clock.nowMs();
    const result = this.state.replayDecision(replayableOf(data), nowMs);
    this.rememberDecided(data, nowMs);
    return result;
  }

  applyBalance(data: BalanceChangedV1): ApplyResult {
    return this.state.applyBalance({ accountId: data.accountId, version: data.version, availableCredits: data.availableCredits, plan: data.plan ?? undefined });
  }

  /** Any ledger event that puts an admission's hold into the balance (reserved, settled, voided, expired). */
  applyLedgerPosition(admissionId: string, version: number): ApplyResult {
    return this.state.applyLedgerReserved(admissionId, version);
  }

  applyLimits(data: LimitsAdjustedV1): ApplyResult {
    return this.state.applyLimits(data.model, data.plan, data.priority, data.multiplier);
  }

  applyReputation(data: ReputationChangedV1): ApplyResult {
    return this.state.applyReputation(data.accountId, data.userId, data.factor);
  }

  // ------------------------------------------------------------------ restart recovery

  /**
   * Buffers a past decision, completion or ledger reservation read at start. They are applied in time
   * order by finishReplay (the domain rebuilds exactly when fed in original order, each at its own time).
   */
  bufferReplay(item: ReplayItem): void {
    this.replayLog.add(item);
  }

  /** Applies what was buffered, expires what is over by now, and starts deciding. */
  finishReplay(): { applied: number } {
    const applied = this.replayLog.flush();
    this.state.expire(this.clock.nowMs());
    this.ready = true;
    return { applied };
  }

  /** Periodic: drop what carries no information any more, so memory follows active accounts. */
  maintain(): number {
    const nowMs = this.clock.nowMs();
    this.idempotency.evict(nowMs);
    this.completed.evict(nowMs);
    return this.state.compact(nowMs);
  }

  private applyReplay(items: readonly ReplayItem[]): void {
    const nowMs = this.clock.nowMs();
    let atMs = 0;
    for (const item of items) {
      // Time only moves forward, and never past now (a producer's clock may run ahead).
      atMs = Math.min(nowMs, Math.max(atMs, item.timeMs));
      switch (item.kind) {
        case 'decided': {
          const data = item.data;
          this.state.replayDecision(replayableOf(data), atMs);
          this.rememberDecided(data, nowMs);
          break;
        }
        case 'completed': {
          this.completed.set(item.data.admissionId, true, atMs + this.idempotencyTtlMs, nowMs);
          this.state.expire(atMs);
          this.state.applyCompletion(item.data.admissionId, this.actualCredits(item.data), item.data.status);
          break;
        }
        case 'reserved':
          this.state.applyLedgerReserved(item.admissionId, item.version);
          break;
        default: {
          const _exhaustive: never = item;
          return _exhaustive;
        }
      }
    }
  }

  /**
   * The first decision of an (accountId, requestId) stays its answer for the idempotency TTL. The log is the truth: a
   * decision read from it replaces what this replica remembers of its own for the key, which can only be a decision it
   * made as a zombie (fenced, so never durable; the owner that logged this one had caught up and found none). Kept,
   * that entry would be deleted when the fence reaches it, and the logged decision forgotten: a retry here would then be
   * decided a second time.
   */
  private rememberDecided(data: AdmissionDecidedV1, nowMs: number): void {
    const decidedAtMs = Date.parse(data.decidedAt);
    if (!(decidedAtMs + this.idempotencyTtlMs > nowMs)) return;
    const key = idempotencyKey(data.accountId, data.requestId);
    const record = this.answers.encode(fingerprintDigest(data, this.fingerprintSeed), data);
    const seen = this.idempotency.find(key, nowMs);
    if (seen.kind === 'decided' && seen.record === record) return;
    this.idempotency.remember(key, record, nowMs);
  }

  private actualCredits(data: UsageRequestCompletedV1): number {
    const priced = priceRequest(this.catalog.priceBook, data.model, data.meters, data.dimensions);
    if (priced.ok) return priced.credits;
    this.observer.completionUnpriced?.(data.admissionId, priced.error.message);
    return UNPRICED_ACTUAL_CREDITS;
  }
}
