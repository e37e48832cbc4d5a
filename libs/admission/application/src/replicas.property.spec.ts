import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { effectiveLimit } from '@access/admission-domain';
import { allowancePart, expectAdmittedWithinLimits, expectWithinOvershoot, ReferenceLedger, testCatalog, type Admitted } from '@access/admission-domain/testing';
import { priceRequest } from '@access/catalog';
import type { AdmissionDecidedV1, UsageRequestCompletedV1 } from '@access/contracts';
import { AdmissionService, idempotencyKey, type AdmissionInput, type AdmitOutcome } from './admission-service';
import type { DecisionAnswer } from './decision-answer';
import { replayableOf } from './decision-event';
import { NotOwnerError, type DecisionSink } from './ports';
import { answerOf } from './spec-support';
import { ManualClock, sequentialIds } from './testing';

/**
 * Admission replicas against the reference model of the single-instance test (domain model.spec.ts, whose ledger and
 * bounds live in @access/admission-domain/testing): three AdmissionServices share one ordered log per partition of
 * `access.admissions.v1` and of `access.usage.v1`; requests for an account go to the owner of its partition (as the
 * router sends them, re-sent to the owner when a replica answers not_owner), and ownership moves at random points by
 * the takeover protocol of ReplicaCoordinator: the new owner fences the partition (the previous owner's decisions not
 * yet committed never will be, and fail with NotOwnerError when it finds out), applies everything committed up to the
 * end of the partition's decisions and completions, then decides. Between takeovers every replica is a warm standby
 * that applies the other replicas' decisions (applyDecided), the completions and the ledger's balances and
 * reservations, each from its own position in each log, so that what it has applied lags by a random amount. A
 * previous owner may stay a zombie for a while: it still believes it owns the partition, decides requests a stale
 * router sends it, and learns of the fence only later.
 *
 * After every step, and over the whole run, the bounds of one instance hold: protective limits, allowance windows,
 * concurrency, and available credits ≥ −(actual − estimated) at the ledger. Idempotency holds across replicas: an
 * (accountId, requestId) has at most one decision in the log, and every answer a caller gets is that decision.
 */

const T0 = Date.parse('2026-11-25T10:00:00.000Z');
const catalog = testCatalog();
const { plans } = catalog;
const TTL_MS = plans.defaults.idempotencyTtlMs;
const REPLICAS = 3;
const PARTITIONS = 2;
/** Two accounts share partition 1, so that a takeover moves more than one account's state. */
const ACCOUNTS = [
  { accountId: 'acct-basic', plan: 'basic', partition: 0 },
  { accountId: 'acct-payg', plan: 'payg', partition: 1 },
  { accountId: 'acct-basic-2', plan: 'basic', partition: 1 },
] as const;
const USERS = ['u-1', 'u-2'] as const;
const partitionOf = (accountId: string): number => ACCOUNTS.find((a) => a.accountId === accountId)?.partition ?? 0;

/** Where the caller's router sends a request: the owner, a zombie that still thinks it owns, or any replica. */
type Via = { readonly to: 'owner' | 'zombie' | 'other'; readonly other: number };
type Op =
  | { kind: 'admit'; account: number; user: number; model: 'sora-2' | 'codex-1'; size: number; priority: 'standard' | 'batch'; gapMs: number; via: Via }
  | { kind: 'retry'; pick: number; via: Via }
  | { kind: 'complete'; pick: number; actual: 'less' | 'same' | 'more' | 'zero'; fraction: number; via: Via }
  | { kind: 'commit'; partition: number; all: boolean }
  | { kind: 'deliver'; replica: number; topic: 'admissions' | 'usage' | 'balances' | 'reserved'; all: boolean }
  | { kind: 'ledger' }
  | { kind: 'grant'; account: number; credits: number }
  | { kind: 'move'; partition: number; to: number; learnsNow: boolean }
  | { kind: 'learn'; partition: number }
  | { kind: 'advance'; ms: number };

const viaArb: fc.Arbitrary<Via> = fc.record({ to: fc.constantFrom('owner' as const, 'owner' as const, 'zombie' as const, 'other' as const), other: fc.nat(REPLICAS - 1) });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ kind: fc.constant('admit' as const), account: fc.nat(ACCOUNTS.length - 1), user: fc.nat(USERS.length - 1), model: fc.constantFrom('sora-2' as const, 'codex-1' as const), size: fc.integer({ min: 0, max: 40 }), priority: fc.constantFrom('standard' as const, 'batch' as const), gapMs: fc.integer({ min: 0, max: 15_000 }), via: viaArb }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('retry' as const), pick: fc.nat(), via: viaArb }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('complete' as const), pick: fc.nat(), actual: fc.constantFrom('less' as const, 'same' as const, 'more' as const, 'zero' as const), fraction: fc.double({ min: 0, max: 1, noNaN: true }), via: viaArb }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('commit' as const), partition: fc.nat(PARTITIONS - 1), all: fc.boolean() }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('deliver' as const), replica: fc.nat(REPLICAS - 1), topic: fc.constantFrom('admissions' as const, 'usage' as const, 'balances' as const, 'reserved' as const), all: fc.boolean() }) },
  { weight: 3, arbitrary: fc.constant({ kind: 'ledger' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('grant' as const), account: fc.nat(ACCOUNTS.length - 1), credits: fc.integer({ min: 0, max: 300 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('move' as const), partition: fc.nat(PARTITIONS - 1), to: fc.nat(REPLICAS - 1), learnsNow: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('learn' as const), partition: fc.nat(PARTITIONS - 1) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 12 * 60_000 }) }) },
  // Long jumps, so the 5 h and 7 d allowance windows roll and idempotency entries expire.
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 4 * 3_600_000, max: 3 * 24 * 3_600_000 }) }) },
);
const multipliersArb = fc.record({ load: fc.constantFrom(0.5, 1, 1.5, 2), reputation: fc.constantFrom(0.5, 1, 3) });
const creditsArb = fc.tuple(fc.integer({ min: 0, max: 500 }), fc.integer({ min: 0, max: 500 }), fc.integer({ min: 0, max: 500 }));

/**
 * - `bounds`: everything above (zombies, fenced in-flight decisions, every log read with its own lag by each replica).
 * - `exact`: clean hand-overs (the previous owner's sends are committed before the fence, so nothing is revoked, and it
 *   learns at once), and balances and ledger reservations reaching every replica at the same moments; decisions and
 *   completions still reach standbys late and are caught up at takeover. A single instance fed the same requests, in
 *   the same order at the same times, must give every request exactly the answer the replicas gave (the whole event
 *   but its latency; ids included: the replicas share one reproducible id sequence, the instance has its own copy).
 *   Exactness needs these conditions:
 *   1. A fenced in-flight admitted decision is revoked by its replica, which keeps its rate charge (AdmissionState.revoke
 *      errs on the safe side), while the new owner never hears of it, and requests that replica decided meanwhile saw
 *      its slot and hold; the caller's retry is then decided by the new owner, later. One instance never publishes and
 *      revokes that request, so later answers may differ (one instance whose broker fails a publish diverges the same
 *      way). The bounds hold regardless: `bounds` mode checks them with fenced in-flight decisions.
 *   2. Balances and ledger reservations reach each process with its own lag: one instance has one lag, N replicas N,
 *      and a request decided with a staler balance may be answered differently (the bounds hold whatever the lag).
 * - `protocol`: `real`, or a takeover broken on purpose, to show the test fails then: `no-catch-up` (the new owner
 *   decides before applying the logs) or `no-fence` (the previous owner's pending decisions still commit).
 */
interface RunOptions {
  readonly mode: 'bounds' | 'exact';
  readonly protocol: 'real' | 'no-catch-up' | 'no-fence';
}

interface Send {
  readonly writer: number;
  readonly data: AdmissionDecidedV1;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

interface Flight {
  readonly key: string;
  readonly input: AdmissionInput;
  readonly replica: number;
  readonly hops: number;
  outcome: AdmitOutcome | null;
  /** Exact mode: the single instance's answer to the same request at the same time. */
  solo: Promise<AdmitOutcome> | null;
}

/** The single instance's sink in exact mode: each send is acknowledged when the replicas' log commits the same decision. */
class HeldSink implements DecisionSink {
  private readonly held = new Map<string, () => void>();
  publishDecision(data: AdmissionDecidedV1): Promise<void> {
    return new Promise((resolve) => this.held.set(data.admissionId, resolve));
  }
  publishCompletion(): Promise<void> {
    return Promise.resolve();
  }
  release(admissionId: string): void {
    this.held.get(admissionId)?.();
    this.held.delete(admissionId);
  }
  releaseAll(): void {
    for (const ack of this.held.values()) ack();
    this.held.clear();
  }
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));
/** What an outcome answers over HTTP: a replay keeps only that (DecisionAnswer), so first decisions are compared by it too. */
const withoutLatency = (o: AdmitOutcome | null) => {
  if (o?.kind !== 'decided') return o;
  return { kind: o.kind, replayed: o.replayed, event: answerOf(o.event) };
};

function estimateOf(model: 'sora-2' | 'codex-1', size: number): AdmissionInput['estimate'] {
  return model === 'sora-2'
    ? { meters: { video_seconds: size }, dimensions: { resolution: '720p' } }
    : { meters: { input_tokens: size * 5_000, output_tokens: size * 250 }, dimensions: {} };
}

/** What a request actually used, relative to its estimate. */
function actualMeters(input: AdmissionInput, actual: Extract<Op, { kind: 'complete' }>['actual'], fraction: number): Record<string, number> {
  const scale = (n: number) => (actual === 'zero' ? 0 : actual === 'same' ? n : actual === 'less' ? Math.floor(n * fraction) : n + Math.ceil(n * fraction) + 1);
  const meters: Record<string, number> = {};
  for (const [name, n] of Object.entries(input.estimate.meters)) meters[name] = scale(n);
  return meters;
}

class ReplicaWorld {
  readonly clock = new ManualClock(T0);
  readonly replicas: AdmissionService[] = [];
  /** What each replica's ownership table says it owns (a zombie still lists a partition it lost). */
  readonly owned: Set<number>[] = [];
  /** Who holds each partition's transactional id (the last to fence it). */
  readonly owner: number[] = Array.from({ length: PARTITIONS }, (_, p) => p % REPLICAS);
  /** Committed decisions per partition, in log order, with their writer. */
  readonly admissionsLog: { writer: number; data: AdmissionDecidedV1 }[][] = Array.from({ length: PARTITIONS }, () => []);
  readonly usageLog: UsageRequestCompletedV1[][] = Array.from({ length: PARTITIONS }, () => []);
  /** Sent, not yet committed (the open transaction of the partition's writer). */
  readonly pending: Send[][] = Array.from({ length: PARTITIONS }, () => []);
  /** Sent by a writer that was fenced: never committed; rejected when the writer learns of the fence. */
  readonly doomed: Send[] = [];
  readonly doomedIds = new Set<string>();
  readonly ledgers: ReferenceLedger[];
  /** Per consumer (the replicas, then the single instance), the next index read in each log. */
  readonly cursors: { admissions: number[]; usage: number[]; balances: number[]; reserved: number[] }[];
  readonly solo: AdmissionService | null;
  readonly soloSink = new HeldSink();
  readonly factor: number;

  readonly requests: AdmissionInput[] = [];
  readonly flights: Flight[] = [];
  /** Durable admitted decisions, by admissionId, with the reference's view (allowance corrected on completion). */
  readonly durable = new Map<string, { event: AdmissionDecidedV1; admitted: Admitted; seq: number; completedSeq: number | null; answered: boolean }>();
  /** The decision sequence (the order in which replicas decided), and completion sequence, for concurrency. */
  private seq = 0;
  readonly decidedSeq = new Map<string, number>();
  /** Committed decisions per (accountId, requestId), in log order. */
  readonly committedByKey = new Map<string, AdmissionDecidedV1[]>();
  /** Every answer callers got, per (accountId, requestId). */
  readonly answers = new Map<string, { event: DecisionAnswer; replayed: boolean; atMs: number }[]>();
  /** Takeovers so far: a request is re-sent to the owner at most once per takeover, plus once from a non-owner. */
  moves = 0;

  constructor(
    readonly options: RunOptions,
    multipliers: { load: number; reputation: number },
    credits: readonly number[],
  ) {
    this.factor = multipliers.load * multipliers.reputation;
    this.ledgers = ACCOUNTS.map((a, i) => new ReferenceLedger(a.accountId, a.plan, credits[i] ?? 0));
    const ids = sequentialIds(this.clock);
    for (let r = 0; r < REPLICAS; r++) {
      const owned = new Set<number>();
      this.owner.forEach((o, p) => o === r && owned.add(p));
      this.owned.push(owned);
      this.replicas.push(new AdmissionService({ catalog, sink: this.sinkOf(r), clock: this.clock, ids, ownership: { owns: (accountId) => owned.has(partitionOf(accountId)) } }));
    }
    this.solo = options.mode === 'exact' ? new AdmissionService({ catalog, sink: this.soloSink, clock: this.clock, ids: sequentialIds(this.clock) }) : null;
    const consumers = [...this.replicas, ...(this.solo === null ? [] : [this.solo])];
    this.cursors = consumers.map(() => ({ admissions: this.owner.map(() => 0), usage: this.owner.map(() => 0), balances: this.ledgers.map(() => 0), reserved: this.ledgers.map(() => 0) }));
    for (const service of consumers) {
      for (const ledger of this.ledgers) {
        service.applyBalance({ accountId: ledger.accountId, version: ledger.version, balanceCredits: ledger.available, heldCredits: 0, availableCredits: ledger.available, plan: ledger.plan, occurredAt: new Date(T0).toISOString() });
        for (const model of ['sora-2', 'codex-1']) for (const priority of ['standard', 'batch'] as const) service.state.applyLimits(model, ledger.plan, priority, multipliers.load);
        for (const user of USERS) service.state.applyReputation(ledger.accountId, user, multipliers.reputation);
      }
      service.finishReplay();
    }
  }

  /** Replica r's sink: decisions go through the fence of their partition (ReplicaCoordinator.publish). */
  private sinkOf(r: number): DecisionSink {
    return {
      publishDecision: (data) => {
        const p = partitionOf(data.accountId);
        if (!this.owned[r]?.has(p)) return Promise.reject(new NotOwnerError(`replica ${r} does not own partition ${p}`));
        this.decidedSeq.set(data.admissionId, ++this.seq);
        return new Promise<void>((resolve, reject) => {
          const send = { writer: r, data, resolve, reject };
          // A writer fenced already (a zombie) can commit nothing: its producer's epoch is over.
          if (this.owner[p] !== r && this.options.protocol !== 'no-fence') this.doom(send);
          else this.pending[p]?.push(send);
        });
      },
      // Completions are not fenced (any replica may publish one); the record is durable at once here.
      publishCompletion: (data) => {
        this.usageLog[partitionOf(data.accountId)]?.push(data);
        const durable = this.durable.get(data.admissionId);
        if (durable !== undefined && durable.completedSeq === null) {
          durable.completedSeq = ++this.seq;
          const actual = this.price(data);
          durable.admitted.completed = true;
          durable.admitted.finalAllowanceCredits = Math.min(actual, durable.admitted.allowanceCredits);
          this.ledgerOf(data.accountId).inbox.push({ kind: 'completed', d: durable.admitted.decision, actual, allowance: durable.admitted.finalAllowanceCredits });
        }
        return Promise.resolve();
      },
    };
  }

  private doom(send: Send): void {
    this.doomed.push(send);
    this.doomedIds.add(send.data.admissionId);
  }

  private price(data: UsageRequestCompletedV1): number {
    const priced = priceRequest(catalog.priceBook, data.model, data.meters, data.dimensions);
    if (!priced.ok) throw new Error(priced.error.message);
    return priced.credits;
  }

  private ledgerOf(accountId: string): ReferenceLedger {
    const ledger = this.ledgers.find((l) => l.accountId === accountId);
    if (ledger === undefined) throw new Error(accountId);
    return ledger;
  }

  // ------------------------------------------------------------------ the log

  /** Commits the partition's oldest pending send (or all): it enters the log, the ledger sees it, the sender hears. */
  commit(p: number, all: boolean): void {
    const queue = this.pending[p] ?? [];
    do {
      const send = queue.shift();
      if (send === undefined) return;
      const { data } = send;
      this.admissionsLog[p]?.push({ writer: send.writer, data });
      const key = idempotencyKey(data.accountId, data.requestId);
      this.committedByKey.set(key, [...(this.committedByKey.get(key) ?? []), data]);
      if (data.decision === 'admitted') {
        const replayable = replayableOf(data);
        const family = catalog.priceBook.models.get(data.model)?.family ?? '';
        const decision = { ...replayable, family };
        const allowance = allowancePart(decision);
        const admitted: Admitted = { decision, userKey: `${data.accountId}|${data.userId}`, allowanceCredits: allowance, finalAllowanceCredits: allowance, completed: false };
        this.durable.set(data.admissionId, { event: data, admitted, seq: this.decidedSeq.get(data.admissionId) ?? 0, completedSeq: null, answered: false });
        this.ledgerOf(data.accountId).inbox.push({ kind: 'decided', d: decision });
      }
      this.soloSink.release(data.admissionId);
      send.resolve();
    } while (all);
  }

  /** Replica r reads the partition's admissions log: the other replicas' decisions are applied, its own skipped. */
  deliverAdmissions(r: number, p: number, all: boolean): void {
    const cursor = this.cursors[r];
    const log = this.admissionsLog[p] ?? [];
    if (cursor === undefined) return;
    do {
      const record = log[cursor.admissions[p] ?? 0];
      if (record === undefined) return;
      cursor.admissions[p] = (cursor.admissions[p] ?? 0) + 1;
      if (record.writer !== r) this.replicas[r]?.applyDecided(record.data);
    } while (all);
  }

  deliverUsage(consumer: number, all: boolean, only?: number): void {
    const service = this.consumer(consumer);
    const cursor = this.cursors[consumer];
    if (cursor === undefined) return;
    for (let p = 0; p < PARTITIONS; p++) {
      if (only !== undefined && p !== only) continue;
      const log = this.usageLog[p] ?? [];
      do {
        const completion = log[cursor.usage[p] ?? 0];
        if (completion === undefined) break;
        cursor.usage[p] = (cursor.usage[p] ?? 0) + 1;
        service.applyCompleted(completion);
      } while (all);
    }
  }

  deliverBalances(consumer: number, all: boolean): void {
    const service = this.consumer(consumer);
    const cursor = this.cursors[consumer];
    if (cursor === undefined) return;
    this.ledgers.forEach((ledger, i) => {
      do {
        const b = ledger.balances[cursor.balances[i] ?? 0];
        if (b === undefined) break;
        cursor.balances[i] = (cursor.balances[i] ?? 0) + 1;
        service.applyBalance({ accountId: ledger.accountId, version: b.version, balanceCredits: b.available, heldCredits: 0, availableCredits: b.available, plan: null, occurredAt: new Date(this.clock.now).toISOString() });
      } while (all);
    });
  }

  deliverReserved(consumer: number, all: boolean): void {
    const service = this.consumer(consumer);
    const cursor = this.cursors[consumer];
    if (cursor === undefined) return;
    this.ledgers.forEach((ledger, i) => {
      do {
        const r = ledger.reserved[cursor.reserved[i] ?? 0];
        if (r === undefined) break;
        cursor.reserved[i] = (cursor.reserved[i] ?? 0) + 1;
        service.applyLedgerPosition(r.admissionId, r.version);
      } while (all);
    });
  }

  private consumer(index: number): AdmissionService {
    const service = index < REPLICAS ? this.replicas[index] : this.solo;
    if (service === undefined || service === null) throw new Error(`no consumer ${index}`);
    return service;
  }

  /** Consumers that a side topic (usage, balances, reservations) reaches in one delivery. */
  private sideConsumers(replica: number): number[] {
    return this.options.mode === 'exact' ? this.cursors.map((_, i) => i) : [replica];
  }

  // ------------------------------------------------------------------ ownership

  /** The takeover protocol of ReplicaCoordinator.acquire: fence, catch up to the end of the log, decide. */
  move(p: number, to: number, learnsNow: boolean): void {
    this.moves++;
    const from = this.owner[p] ?? 0;
    if (this.options.mode === 'exact') this.commit(p, true); // a clean hand-over: nothing in flight is fenced
    // 1. Fence: the partition's open transaction is aborted; its sends will never commit.
    if (this.options.protocol !== 'no-fence') for (const send of (this.pending[p] ?? []).splice(0)) this.doom(send);
    this.owner[p] = to;
    // 2. Catch up: everything committed up to the high watermark (taken after the fence), decisions and completions.
    if (this.options.protocol !== 'no-catch-up') {
      this.deliverAdmissions(to, p, true);
      this.deliverUsage(to, true, p);
    }
    // 3. Decide.
    this.owned[to]?.add(p);
    if (from !== to && (learnsNow || this.options.mode === 'exact')) this.learn(p);
  }

  /** The replicas that lost the partition find out (their producer reports the fence; the group reassigns). */
  learn(p: number): void {
    for (let r = 0; r < REPLICAS; r++) if (r !== this.owner[p]) this.owned[r]?.delete(p);
    const learned = this.doomed.filter((s) => partitionOf(s.data.accountId) === p);
    for (const send of learned) {
      this.doomed.splice(this.doomed.indexOf(send), 1);
      send.reject(new NotOwnerError(`partition ${p} was taken over`));
    }
  }

  zombieOf(p: number): number | null {
    for (let r = 0; r < REPLICAS; r++) if (r !== this.owner[p] && this.owned[r]?.has(p)) return r;
    return null;
  }

  private route(p: number, via: Via): number {
    if (via.to === 'zombie') return this.zombieOf(p) ?? this.owner[p] ?? 0;
    if (via.to === 'other') return via.other;
    return this.owner[p] ?? 0;
  }

  // ------------------------------------------------------------------ callers

  admit(input: AdmissionInput, replica: number, hops = 0): void {
    const key = idempotencyKey(input.accountId, input.requestId);
    const service = this.replicas[replica];
    if (service === undefined) throw new Error(`replica ${replica}`);
    // In exact mode the single instance decides wherever a replica decides (one that owns the account).
    const deciding = this.solo !== null && (this.owned[replica]?.has(partitionOf(input.accountId)) ?? false);
    const flight: Flight = { key, input, replica, hops, outcome: null, solo: deciding ? (this.solo?.admit(input) ?? null) : null };
    this.flights.push(flight);
    void service.admit(input).then((o) => (flight.outcome = o));
  }

  /** Lets every acknowledgement and failure run, then handles the answers: decided ones are recorded, not_owner re-routed. */
  async settle(): Promise<void> {
    for (let round = 0; round < 10; round++) {
      await tick();
      const done = this.flights.filter((f) => f.outcome !== null);
      if (done.length === 0) return;
      for (const f of done) this.flights.splice(this.flights.indexOf(f), 1);
      for (const f of done) await this.answered(f);
    }
  }

  private async answered(f: Flight): Promise<void> {
    const o = f.outcome;
    if (o === null) return;
    if (o.kind === 'not_owner') {
      // The router looks the owner up again and sends the request there (one decision, by the owner).
      expect(f.hops).toBeLessThanOrEqual(this.moves + 1);
      expect(f.solo).toBeNull();
      this.admit(f.input, this.owner[partitionOf(f.input.accountId)] ?? 0, f.hops + 1);
      return;
    }
    if (o.kind !== 'decided') throw new Error(`unexpected outcome ${JSON.stringify(o)}`);
    if (f.solo !== null) {
      const solo = await f.solo;
      expect(withoutLatency(o), `request ${f.key}: replicas and one instance answer alike`).toEqual(withoutLatency(solo));
    }
    const event = o.event;
    if (event.decision === 'admitted') {
      // Admitted answers wait for durability: the decision is in the log.
      const durable = this.durable.get(event.admissionId);
      expect(durable, `admitted ${f.key} is durable`).toBeDefined();
      if (durable !== undefined) durable.answered = true;
    }
    const list = this.answers.get(f.key) ?? [];
    list.push({ event, replayed: o.replayed, atMs: this.clock.now });
    this.answers.set(f.key, list);
    this.expectOneDecisionPerKey(f.key);
  }

  /**
   * Idempotency across replicas: within the TTL of its first decision, an (accountId, requestId) has one decision in
   * the log, and every answer is it. One exception, which one instance has too: a rejection is answered before it is
   * durable (admission-service.ts), so a rejection by a replica fenced before it committed (a zombie's) was answered
   * but never became the first decision, and the owner decides that requestId afresh.
   */
  expectOneDecisionPerKey(key: string): void {
    const committed = this.committedByKey.get(key) ?? [];
    const first = committed[0];
    if (first !== undefined) {
      const until = Date.parse(first.decidedAt) + TTL_MS;
      for (const d of committed) if (Date.parse(d.decidedAt) < until) expect(d.admissionId, `${key}: one decision in the log`).toBe(first.admissionId);
    }
    const answers = (this.answers.get(key) ?? []).filter((a) => !this.doomedIds.has(a.event.admissionId) || a.event.decision === 'admitted');
    const firstAnswer = answers[0];
    if (firstAnswer === undefined) return;
    const until = Date.parse(firstAnswer.event.decidedAt) + TTL_MS;
    for (const a of answers) {
      if (a.atMs >= until) continue;
      expect(a.event.admissionId, `${key}: every answer is the first decision`).toBe(firstAnswer.event.admissionId);
      expect(a.event.decision).toBe(firstAnswer.event.decision);
    }
  }

  /** Completes an admitted request whose caller has the answer; through the owner of its partition. */
  async complete(op: Extract<Op, { kind: 'complete' }>): Promise<void> {
    const open = [...this.durable.values()].filter((d) => d.answered && d.completedSeq === null && Date.parse(d.event.reservationExpiresAt ?? '') > this.clock.now);
    const target = open[op.pick % Math.max(1, open.length)];
    if (target === undefined) return;
    const e = target.event;
    const input = this.requests.find((r) => r.accountId === e.accountId && r.requestId === e.requestId);
    if (input === undefined) throw new Error('request');
    const data: UsageRequestCompletedV1 = {
      admissionId: e.admissionId,
      requestId: e.requestId,
      accountId: e.accountId,
      userId: e.userId,
      model: e.model,
      endpoint: e.endpoint,
      status: op.actual === 'zero' ? 'failed' : 'succeeded',
      meters: actualMeters(input, op.actual, op.fraction),
      dimensions: input.estimate.dimensions,
      gpuSeconds: 1,
      durationMs: 1_000,
      startedAt: e.decidedAt,
      endedAt: new Date(this.clock.now).toISOString(),
    };
    const p = partitionOf(e.accountId);
    let replica = this.route(p, op.via);
    for (let hop = 0; ; hop++) {
      const service = this.replicas[replica];
      if (service === undefined) throw new Error('replica');
      const deciding = this.owned[replica]?.has(p) ?? false;
      const [o, solo] = await Promise.all([service.complete(data), deciding && this.solo !== null ? this.solo.complete(data) : null]);
      if (o.kind === 'not_owner' && hop < 2) {
        replica = this.owner[p] ?? 0;
        continue;
      }
      expect(o).toEqual({ kind: 'accepted', duplicate: false });
      if (solo !== null) expect(solo).toEqual(o);
      return;
    }
  }

  // ------------------------------------------------------------------ checks

  expectStepBounds(): void {
    for (const ledger of this.ledgers) expectWithinOvershoot(ledger);
    for (const service of [...this.replicas, ...(this.solo === null ? [] : [this.solo])]) {
      for (const { accountId } of ACCOUNTS) expect(service.state.account(accountId)?.unreflectedHeldCredits ?? 0).toBeGreaterThanOrEqual(0);
    }
  }

  /** Over the whole run: rates, allowance windows and concurrency, of everything durable, in decision order. */
  expectRunBounds(): void {
    const durable = [...this.durable.values()].sort((a, b) => a.seq - b.seq);
    expectAdmittedWithinLimits(
      durable.map((d) => d.admitted),
      plans,
      ACCOUNTS,
      USERS,
      this.factor,
    );
    // Concurrency: when each was decided, fewer than the limit of the same user's admissions were open.
    for (const d of durable) {
      const plan = plans.plans.get(ACCOUNTS.find((a) => a.accountId === d.event.accountId)?.plan ?? '');
      if (plan === undefined) throw new Error('plan');
      const at = d.admitted.decision.decidedAtMs;
      const open = durable.filter(
        (e) => e.seq < d.seq && e.admitted.userKey === d.admitted.userKey && (e.completedSeq === null || e.completedSeq > d.seq) && (e.admitted.decision.reservationExpiresAtMs ?? 0) > at,
      ).length;
      expect(open, `slots open when ${d.event.requestId} was admitted`).toBeLessThan(effectiveLimit(plan.concurrentRequests, this.factor, 10_000));
    }
    for (const key of new Set([...this.committedByKey.keys(), ...this.answers.keys()])) this.expectOneDecisionPerKey(key);
  }

  // ------------------------------------------------------------------ the run

  async step(op: Op): Promise<void> {
    switch (op.kind) {
      case 'admit': {
        this.clock.advance(op.gapMs);
        const account = ACCOUNTS[op.account] ?? ACCOUNTS[0];
        const input: AdmissionInput = {
          requestId: `req-${this.requests.length + 1}`,
          accountId: account.accountId,
          userId: USERS[op.user] ?? 'u-1',
          model: op.model,
          endpoint: 'e',
          priority: op.priority,
          estimate: estimateOf(op.model, op.size),
        };
        this.requests.push(input);
        this.admit(input, this.route(account.partition, op.via));
        break;
      }
      case 'retry': {
        // The caller sends the same requestId and body again (a timeout, a retry by the client library).
        const input = this.requests[op.pick % Math.max(1, this.requests.length)];
        if (input !== undefined) this.admit(input, this.route(partitionOf(input.accountId), op.via));
        break;
      }
      case 'complete':
        await this.complete(op);
        break;
      case 'commit':
        this.commit(op.partition, op.all);
        break;
      case 'deliver':
        if (op.topic === 'admissions') for (let p = 0; p < PARTITIONS; p++) this.deliverAdmissions(op.replica, p, op.all);
        else for (const c of this.sideConsumers(op.replica)) this.deliverSide(c, op.topic, op.all);
        break;
      case 'ledger':
        for (const ledger of this.ledgers) ledger.processNext();
        break;
      case 'grant':
        this.ledgers[op.account]?.grant(op.credits);
        break;
      case 'move':
        this.move(op.partition, op.to, op.learnsNow);
        break;
      case 'learn':
        if (this.options.mode === 'bounds') this.learn(op.partition);
        break;
      case 'advance':
        // As in the single-instance model: the ledger settles what it has before reservations time out, and over long
        // jumps its messages arrive (admission forgets an unreflected hold a grace period after its expiry).
        // Over long jumps, open transactions end too (a producer commits or aborts within its transaction timeout,
        // minutes, far less than the idempotency TTL of a day).
        if (op.ms >= 3_600_000) for (let p = 0; p < PARTITIONS; p++) this.commit(p, true);
        await this.settle();
        for (const ledger of this.ledgers) while (ledger.inbox.length > 0) ledger.processNext();
        if (op.ms >= 3_600_000) for (let c = 0; c < this.cursors.length; c++) this.deliverLedger(c);
        this.clock.advance(op.ms);
        for (const ledger of this.ledgers) ledger.expire(this.clock.now);
        break;
      default: {
        const _exhaustive: never = op;
        throw new Error(`unhandled ${JSON.stringify(_exhaustive)}`);
      }
    }
    await this.settle();
    this.expectStepBounds();
  }

  private deliverSide(consumer: number, topic: 'usage' | 'balances' | 'reserved', all: boolean): void {
    if (topic === 'usage') this.deliverUsage(consumer, all);
    else if (topic === 'balances') this.deliverBalances(consumer, all);
    else this.deliverReserved(consumer, all);
  }

  private deliverLedger(consumer: number): void {
    this.deliverBalances(consumer, true);
    this.deliverReserved(consumer, true);
  }

  /** The end: zombies learn, every open transaction commits, the ledger and every reader drain. */
  async drain(): Promise<void> {
    for (let round = 0; round < 5; round++) {
      for (let p = 0; p < PARTITIONS; p++) {
        this.learn(p);
        this.commit(p, true);
      }
      await this.settle();
    }
    this.soloSink.releaseAll();
    await this.settle();
    expect(this.flights).toEqual([]);
    for (const ledger of this.ledgers) while (ledger.inbox.length > 0) ledger.processNext();
    for (let c = 0; c < this.cursors.length; c++) {
      if (c < REPLICAS) for (let p = 0; p < PARTITIONS; p++) this.deliverAdmissions(c, p, true);
      this.deliverUsage(c, true);
      this.deliverLedger(c);
    }
    this.expectStepBounds();
  }
}

async function run(options: RunOptions, ops: readonly Op[], multipliers: { load: number; reputation: number }, credits: readonly number[]): Promise<ReplicaWorld> {
  const world = new ReplicaWorld(options, multipliers, credits);
  for (const op of ops) await world.step(op);
  await world.drain();
  world.expectRunBounds();
  return world;
}

const opsArb = fc.array(opArb, { minLength: 1, maxLength: 120, size: 'max' });

describe('admission replicas against the reference model', () => {
  it('3 replicas with ownership moving, zombies and lagging standbys keep the bounds of one instance, and one decision per requestId', async () => {
    await fc.assert(
      fc.asyncProperty(opsArb, multipliersArb, creditsArb, async (ops, multipliers, credits) => {
        await run({ mode: 'bounds', protocol: 'real' }, ops, multipliers, credits);
      }),
      { numRuns: 150, seed: 1_105 },
    );
  });

  it('with clean hand-overs, 3 replicas answer every request exactly as one instance does', async () => {
    await fc.assert(
      fc.asyncProperty(opsArb, multipliersArb, creditsArb, async (ops, multipliers, credits) => {
        await run({ mode: 'exact', protocol: 'real' }, ops, multipliers, credits);
      }),
      { numRuns: 100, seed: 2_205 },
    );
  });

  it.each([
    ['bounds', 'no-catch-up'],
    ['bounds', 'no-fence'],
    ['exact', 'no-catch-up'],
  ] as const)('fails when the takeover is broken on purpose (%s, %s)', async (mode, protocol) => {
    const result = await fc.check(
      fc.asyncProperty(opsArb, multipliersArb, creditsArb, async (ops, multipliers, credits) => {
        await run({ mode, protocol }, ops, multipliers, credits);
      }),
      { numRuns: 300, seed: 3_305, endOnFailure: true },
    );
    expect(result.failed).toBe(true);
    // Failed on a bound, an answer or idempotency, not by crashing.
    expect(String(result.errorInstance)).toMatch(/^AssertionError: /);
  });
});
