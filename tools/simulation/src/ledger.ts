/**
 * The credit ledger against a simulated Postgres. The deciding is the real code: `intakeOf`, `reserveCommand`,
 * `completionCommand` and `lateAllowanceRefund` (the ledger's intake) and the domain's `decide`/`evolveAll`. What is
 * modelled is the store and the consumer around them, step for step as ledger-store.ts and ledger-consumer.ts do it:
 *
 * - a batch's events, balances (outbox), allowance parts, dead letters and its partition's next offset are written
 *   in ONE transaction; the offset write is fenced on the offset the batch started from, and the append collides on
 *   (account, version) when another writer got there first (then the batch is decided again, up to
 *   appendRetriesMax times);
 * - positions are read from Postgres on every assignment and after every rebalance; a batch that starts above the
 *   stored position seeks back; messages below it are skipped. Kafka's own commits are never read back, so a crash
 *   between the Postgres commit and the Kafka commit is harmless, and the simulation shows it;
 * - a failed batch (an aborted transaction, a commit that timed out after the server committed it) is retried
 *   from the same messages with backoff while the member still owns the partition (RawBatchConsumer);
 * - the outbox publisher sends what committed, at least once (a crash after sending re-sends);
 * - the expiry job runs `expireDue` on accounts with a hold past its expiry.
 */
import type { AnyAccessEvent, BalanceChangedV1 } from '@access/contracts';
import {
  availableCredits,
  decide,
  evolveAll,
  initialState,
  parseInstant,
  type CreditAccountCommand,
  type CreditAccountEvent,
  type CreditAccountState,
  type DecideResult,
} from '@access/credit-ledger-domain';
import { intakeOf, lateAllowanceRefund, reserveCommand, type AllowanceRecord, type Intake } from '@access/credit-ledger-application';
import { defaultStoreLimits } from '@access/credit-ledger-adapters';
import { completionCommandFor } from './defects';
import { ConsumerGroup, type Message, type Topic } from './kafka';
import type { LedgerMessage, World } from './world';

type CommandInput = CreditAccountCommand | ((state: CreditAccountState) => CreditAccountCommand | null);

interface Item {
  readonly accountId: string;
  readonly command: CommandInput;
}

export interface Appended {
  readonly accountId: string;
  readonly version: number;
  readonly event: CreditAccountEvent;
}

interface OutboxRow {
  readonly events: readonly Appended[];
  readonly balances: readonly BalanceChangedV1[];
  readonly deadLetters: readonly string[];
}

interface Tx {
  readonly before: ReadonlyMap<string, CreditAccountState>;
  readonly after: ReadonlyMap<string, CreditAccountState>;
  readonly events: readonly Appended[];
  readonly deadLetters: readonly string[];
  readonly allowances: readonly AllowanceRecord[];
  readonly offset: { readonly key: string; readonly expected: number | null; readonly next: number } | null;
}

/** Per account, sums kept from the appended events alone (not from `evolve`): what conservation is checked against. */
export interface Tally {
  granted: number;
  settled: number;
  forfeited: number;
  adjusted: number;
  held: number;
  /** Credits settled beyond the hold that was open at settlement: the overshoot the architecture bounds. */
  uncovered: number;
}

/** The ledger's Postgres: streams, projections (the folded states), offsets, allowance parts, outbox. */
export class LedgerDb {
  readonly streams = new Map<string, CreditAccountEvent[]>();
  readonly states = new Map<string, CreditAccountState>();
  readonly offsets = new Map<string, number>();
  readonly allowances = new Map<string, number>();
  readonly outbox: OutboxRow[] = [];
  readonly tallies = new Map<string, Tally>();
  /**
   * Settlements and voids per admission, counted from the streams. An expiry is not counted: a completion that
   * arrives after its hold expired is still settled, once (the decider's rule).
   */
  readonly resolutions = new Map<string, number>();
  /** Admissions settled or voided a second time, in the order it happened. */
  readonly resolvedTwice: string[] = [];
  /** Accounts changed since the invariants last looked. */
  readonly touched = new Set<string>();

  constructor(private readonly world: World) {}

  state(accountId: string): CreditAccountState {
    return this.states.get(accountId) ?? initialState();
  }

  commit(tx: Tx): 'committed' | 'conflict' | 'fenced' {
    for (const [accountId, state] of tx.before) if (this.state(accountId).version !== state.version) return 'conflict';
    if (tx.offset !== null && (this.offsets.get(tx.offset.key) ?? null) !== tx.offset.expected) return 'fenced';
    const sabotage = this.world.options.sabotage;
    for (const appended of tx.events) {
      let stream = this.streams.get(appended.accountId);
      if (stream === undefined) this.streams.set(appended.accountId, (stream = []));
      const lose = sabotage === 'store-loses-event' && appended.event.type === 'reservation_settled' && this.world.rng.chance(0.05);
      if (!lose) {
        stream.push(appended.event);
        this.tally(appended.accountId, appended.event);
      }
      if (sabotage === 'settle-twice' && appended.event.type === 'reservation_settled' && this.world.rng.chance(0.05)) {
        stream.push(appended.event);
        this.tally(appended.accountId, appended.event);
      }
    }
    for (const [accountId, state] of tx.after) {
      if (state.version === (tx.before.get(accountId)?.version ?? 0)) continue;
      let stored = state;
      if (sabotage === 'hold-released-twice') {
        // The hold of a settlement released a second time, where that takes the account's holds below zero.
        let released = 0;
        for (const e of tx.events) if (e.accountId === accountId && e.event.type === 'reservation_settled') released += e.event.data.heldCredits;
        if (released > 0 && state.heldCredits - released < 0) stored = { ...state, heldCredits: state.heldCredits - released };
      }
      this.states.set(accountId, stored);
      this.touched.add(accountId);
    }
    for (const a of tx.allowances) if (!this.allowances.has(a.admissionId)) this.allowances.set(a.admissionId, a.allowanceCredits);
    if (tx.offset !== null) this.offsets.set(tx.offset.key, tx.offset.next);
    const changed = [...new Set(tx.events.map((e) => e.accountId))];
    const balances = changed.map((accountId) => balanceOf(accountId, tx.after.get(accountId)!));
    if (tx.events.length > 0 || tx.deadLetters.length > 0) this.outbox.push({ events: tx.events, balances, deadLetters: tx.deadLetters });
    return 'committed';
  }

  private resolved(admissionId: string): void {
    const n = (this.resolutions.get(admissionId) ?? 0) + 1;
    this.resolutions.set(admissionId, n);
    if (n === 2) this.resolvedTwice.push(admissionId);
  }

  private tally(accountId: string, event: CreditAccountEvent): void {
    let t = this.tallies.get(accountId);
    if (t === undefined) this.tallies.set(accountId, (t = { granted: 0, settled: 0, forfeited: 0, adjusted: 0, held: 0, uncovered: 0 }));
    switch (event.type) {
      case 'credits_granted':
        t.granted += event.data.credits;
        break;
      case 'credits_reserved':
        t.held += event.data.credits;
        break;
      case 'reservation_settled':
        t.settled += event.data.actualCredits;
        t.held -= event.data.heldCredits;
        t.uncovered += Math.max(0, event.data.actualCredits - event.data.heldCredits);
        this.resolved(event.data.admissionId);
        break;
      case 'reservation_voided':
        t.held -= event.data.releasedCredits;
        this.resolved(event.data.admissionId);
        break;
      case 'reservation_expired':
        t.held -= event.data.releasedCredits;
        break;
      case 'grant_expired':
        t.forfeited += event.data.forfeitedCredits;
        break;
      case 'credits_adjusted':
        t.adjusted += event.data.credits;
        break;
      case 'account_opened':
      case 'plan_changed':
        break;
      default: {
        const _exhaustive: never = event;
        return _exhaustive;
      }
    }
  }
}

function balanceOf(accountId: string, state: CreditAccountState): BalanceChangedV1 {
  return {
    accountId,
    version: state.version,
    balanceCredits: state.balanceCredits,
    heldCredits: state.heldCredits,
    availableCredits: availableCredits(state),
    plan: state.plan,
    occurredAt: new Date(state.clockMs ?? 0).toISOString(),
  };
}

/** ledger-store.ts decideBatch: each command against the state the earlier ones in the batch left. */
function decideBatch(items: readonly Item[], before: ReadonlyMap<string, CreditAccountState>) {
  const after = new Map(before);
  const events: Appended[] = [];
  const outcomes: { result: DecideResult | null }[] = [];
  for (const item of items) {
    let state = after.get(item.accountId) ?? initialState();
    const command = typeof item.command === 'function' ? item.command(state) : item.command;
    if (command === null) {
      outcomes.push({ result: null });
      continue;
    }
    const result = decide(command, state);
    result.events.forEach((event, i) => events.push({ accountId: item.accountId, version: state.version + 1 + i, event }));
    const last = result.events.at(-1);
    if (result.kind === 'accepted' && last !== undefined) {
      state = result.state.clockMs === parseInstant(last.occurredAt) ? result.state : evolveAll(state, result.events);
    }
    after.set(item.accountId, state);
    outcomes.push({ result });
  }
  return { after, events, outcomes };
}

class Instance {
  alive = true;
  /** LedgerConsumer.positions: the stored next offset as of this member's last read or write. */
  readonly cache = new Map<number, number | null>();
  cacheGeneration = -1;
  /** The Kafka fetch position per group partition. */
  readonly position = new Map<number, number>();
  readonly busy = new Set<number>();
  readonly wakeScheduled = new Set<number>();
  /** ledger-store.ts `holding`: accounts an in-flight batch of this process holds. */
  readonly held = new Set<string>();
  constructor(readonly id: string) {}
}

export class SimLedger {
  readonly db: LedgerDb;
  readonly group: ConsumerGroup;
  private readonly instances: Instance[];
  private readonly topics: readonly Topic<AnyAccessEvent>[];
  private outboxScheduled = false;
  /** Every balance the ledger published, by "accountId:version", with its available credits. */
  readonly published = new Map<string, number>();

  constructor(private readonly world: World) {
    this.db = new LedgerDb(world);
    this.topics = [world.topics.admissions, world.topics.usage];
    this.instances = [new Instance('ledger-a'), new Instance('ledger-b')];
    this.group = new ConsumerGroup('credit-ledger', world.options.partitions * 2, this.instances.map((i) => i.id));
    this.assign();
    this.topics.forEach((topic, t) => topic.onAppend((p) => this.wake(t * world.options.partitions + p)));
    this.scheduleExpiry();
  }

  /** Opens an account and grants its credits directly (the HTTP side of the ledger). */
  openAccount(accountId: string, plan: string, credits: number): void {
    const now = this.world.nowIso;
    const items: Item[] = [{ accountId, command: { type: 'openAccount', data: { plan }, metadata: { now } } }];
    if (credits > 0) items.push({ accountId, command: { type: 'grant', data: { grantId: `g-${accountId}`, credits, source: 'purchase' }, metadata: { now } } });
    const before = new Map([[accountId, this.db.state(accountId)]]);
    const batch = decideBatch(items, before);
    this.db.commit({ before, after: batch.after, events: batch.events, deadLetters: [], allowances: [], offset: null });
    this.scheduleOutbox();
  }

  private key(i: number): string {
    const p = this.world.options.partitions;
    return `${i < p ? 'admissions' : 'usage'}:${i % p}`;
  }

  private messages(i: number): Message<AnyAccessEvent>[] {
    const p = this.world.options.partitions;
    return this.topics[Math.floor(i / p)]!.logs[i % p]!;
  }

  /** onAssignment: every member seeks the partitions it now owns to the positions stored in Postgres. */
  private assign(): void {
    for (const inst of this.instances) {
      for (let i = 0; i < this.group.partitions; i++) {
        if (this.group.owner[i] === inst.id) {
          inst.position.set(i, this.db.offsets.get(this.key(i)) ?? 0);
          this.wake(i);
        }
      }
    }
  }

  private wake(i: number): void {
    const owner = this.instances.find((inst) => inst.id === this.group.owner[i]);
    if (owner === undefined || !owner.alive || owner.busy.has(i) || owner.wakeScheduled.has(i)) return;
    if ((owner.position.get(i) ?? 0) >= this.messages(i).length) return;
    owner.wakeScheduled.add(i);
    this.world.sched.after(this.world.rng.int(1, 5), `ledger.fetch ${owner.id} ${this.key(i)}`, () => this.fetch(owner, i));
  }

  private fetch(inst: Instance, i: number): void {
    inst.wakeScheduled.delete(i);
    if (!inst.alive || this.group.owner[i] !== inst.id || inst.busy.has(i)) return;
    const from = inst.position.get(i) ?? 0;
    const messages = this.messages(i).slice(from, from + 50);
    if (messages.length === 0) return;
    inst.busy.add(i);
    this.handle(inst, i, messages, 0);
  }

  private done(inst: Instance, i: number): void {
    inst.busy.delete(i);
    this.wake(i);
  }

  /** LedgerConsumer.handle. */
  private handle(inst: Instance, i: number, messages: Message<AnyAccessEvent>[], attempt: number): void {
    if (inst.cacheGeneration !== this.group.generation) {
      inst.cache.clear();
      inst.cacheGeneration = this.group.generation;
    }
    const key = this.key(i);
    let expected = inst.cache.get(i);
    if (expected === undefined) {
      expected = this.db.offsets.get(key) ?? null;
      inst.cache.set(i, expected);
    }
    const first = messages[0]!;
    if (expected !== null && first.offset > expected) {
      this.world.count('ledger.seek_back');
      inst.position.set(i, expected);
      this.done(inst, i);
      return;
    }
    const from = expected;
    const fresh = from === null ? messages : messages.filter((m) => m.offset >= from);
    if (fresh.length < messages.length) this.world.count('ledger.skipped_redelivered', messages.length - fresh.length);
    const next = messages[messages.length - 1]!.offset + 1;
    if (fresh.length === 0) {
      inst.position.set(i, next);
      this.done(inst, i);
      return;
    }
    // A batch in flight when the group rebalances: it goes on and may still commit (a member past its session).
    if (this.world.fault('rebalance')) this.rebalance();
    this.begin(inst, i, fresh, expected, next, attempt, 0);
  }

  /** LedgerConsumer.apply + LedgerStore.execute: decide against committed states, commit a little later. */
  private begin(inst: Instance, i: number, chunk: Message<AnyAccessEvent>[], expected: number | null, next: number, attempt: number, appendAttempt: number): void {
    const world = this.world;
    const now = world.nowIso;
    const deadLetters: string[] = [];
    const intakes: { intake: Intake }[] = [];
    for (const message of chunk) {
      const intake = intakeOf(message.value, world.catalog.priceBook);
      if (intake.kind === 'invalid') deadLetters.push(intake.reason);
      else intakes.push({ intake });
    }
    const ids = intakes.flatMap(({ intake }) =>
      intake.kind === 'complete' || intake.kind === 'reserve' ? [intake.admissionId] : intake.kind === 'allowance' ? [intake.allowance.admissionId] : [],
    );
    const allowanceOf = new Map<string, number>();
    for (const id of ids) {
      const credits = this.db.allowances.get(id);
      if (credits !== undefined) allowanceOf.set(id, credits);
    }
    const completionCommand = completionCommandFor(world.options.defects);
    const items: Item[] = [];
    const allowances: AllowanceRecord[] = [];
    const remember = (allowance: AllowanceRecord) => {
      allowances.push(allowance);
      const refund = lateAllowanceRefund(allowance.admissionId, allowance.allowanceCredits, now);
      items.push({ accountId: allowance.accountId, command: (state) => (allowanceOf.has(allowance.admissionId) ? null : refund(state)) });
    };
    for (const { intake } of intakes) {
      switch (intake.kind) {
        case 'reserve':
          items.push({ accountId: intake.accountId, command: reserveCommand(intake, now) });
          if (intake.allowance !== null) remember(intake.allowance);
          break;
        case 'allowance':
          remember(intake.allowance);
          break;
        case 'complete':
          items.push({ accountId: intake.accountId, command: (state) => completionCommand(intake, allowanceOf.get(intake.admissionId), now)(state) });
          break;
        case 'ignore':
        case 'invalid':
          break;
        default: {
          const _exhaustive: never = intake;
          return _exhaustive;
        }
      }
    }
    const accounts = [...new Set(items.map((it) => it.accountId))];
    if (accounts.some((a) => inst.held.has(a))) {
      // Another batch of this process holds one of these accounts: wait for it (first come, first served).
      world.sched.after(1, `ledger.wait ${inst.id} ${this.key(i)}`, () => (inst.alive ? this.begin(inst, i, chunk, expected, next, attempt, appendAttempt) : undefined));
      return;
    }
    for (const a of accounts) inst.held.add(a);
    const before = new Map(accounts.map((a) => [a, this.db.state(a)]));
    const batch = decideBatch(items, before);
    for (const { result } of batch.outcomes) {
      if (result?.kind === 'conflict') deadLetters.push(`LEDGER.CONFLICT: ${result.detail}`);
      else if (result?.kind === 'rejected') deadLetters.push(`LEDGER.REJECTED (${result.reason}): ${result.detail}`);
    }
    const tx: Tx = { before, after: batch.after, events: batch.events, deadLetters, allowances, offset: { key: this.key(i), expected, next } };
    if (world.fault('consumerCrash')) world.sched.after(world.rng.int(0, 6), `ledger.crash ${inst.id}`, () => this.crash(inst));
    world.sched.after(world.rng.int(1, 8), `ledger.commit ${inst.id} ${this.key(i)} @${expected}->${next}`, () => {
      for (const a of accounts) inst.held.delete(a);
      if (!inst.alive) return; // the process died: Postgres rolls the transaction back
      if (world.fault('txAborts')) {
        if (world.options.sabotage === 'publish-uncommitted-balance') this.publishUncommitted(tx);
        return this.retry(inst, i, chunk, attempt);
      }
      const outcome = this.db.commit(tx);
      if (outcome === 'conflict') {
        world.count('ledger.append_conflict');
        if (appendAttempt >= defaultStoreLimits.appendRetriesMax) return this.retry(inst, i, chunk, attempt);
        return this.begin(inst, i, chunk, expected, next, attempt, appendAttempt + 1);
      }
      if (outcome === 'fenced') {
        world.count('ledger.fenced');
        const stored = this.db.offsets.get(this.key(i)) ?? null;
        inst.cache.set(i, stored);
        if (stored !== null) inst.position.set(i, stored);
        return this.done(inst, i);
      }
      this.scheduleOutbox();
      if (world.fault('txTimesOutAfterCommit')) return this.retry(inst, i, chunk, attempt);
      inst.cache.set(i, next);
      inst.position.set(i, next);
      // The Kafka commit (for lag monitoring only) may be lost to a crash right here; nothing reads it back.
      if (!world.fault('consumerCrash')) this.group.committed[i] = next;
      else return this.crash(inst);
      this.done(inst, i);
    });
  }

  /** RawBatchConsumer: the same messages again after a backoff, unless the member no longer owns the partition. */
  private retry(inst: Instance, i: number, messages: Message<AnyAccessEvent>[], attempt: number): void {
    this.world.count('ledger.batch_retry');
    const delayMs = Math.min(10_000, 100 * 2 ** Math.min(attempt + 1, 10));
    this.world.sched.after(delayMs, `ledger.retry ${inst.id} ${this.key(i)}`, () => {
      if (!inst.alive || this.group.owner[i] !== inst.id) return this.done(inst, i);
      this.handle(inst, i, messages, attempt + 1);
    });
  }

  /** Sabotage: the balances of a transaction that rolled back reach Kafka (as if published before the commit). */
  private publishUncommitted(tx: Tx): void {
    for (const accountId of new Set(tx.events.map((e) => e.accountId))) {
      this.world.topics.balances.append(accountId, balanceOf(accountId, tx.after.get(accountId)!), this.world.nowMs);
    }
  }

  private rebalance(): void {
    this.group.rebalance(this.world.rng.int(0, 1));
    this.assign();
  }

  private crash(inst: Instance): void {
    if (!inst.alive) return;
    inst.alive = false;
    inst.cache.clear();
    inst.busy.clear();
    inst.wakeScheduled.clear();
    inst.position.clear();
    inst.held.clear();
    this.group.leave(inst.id, 0);
    this.assign();
    this.world.sched.after(this.world.rng.int(200, 2_000), `ledger.restart ${inst.id}`, () => {
      inst.alive = true;
      this.group.join(inst.id, this.world.rng.int(0, 1));
      this.assign();
    });
  }

  // ------------------------------------------------------------------ jobs

  private scheduleExpiry(): void {
    this.world.sched.after(1_000, 'ledger.expiry', () => {
      this.expireDue();
      this.scheduleExpiry();
    });
  }

  /** ExpiryJob: `expireDue` on every account with a hold past its expiry, in one transaction. */
  private expireDue(): void {
    const nowMs = this.world.nowMs;
    const now = this.world.nowIso;
    const due = [...this.db.states].filter(([, s]) => s.reservations.values().some((r) => r.expiresAtMs <= nowMs)).map(([a]) => a);
    if (due.length === 0) return;
    const items: Item[] = due.map((accountId) => ({ accountId, command: { type: 'expireDue', data: {}, metadata: { now } } }));
    const before = new Map(due.map((a) => [a, this.db.state(a)]));
    const batch = decideBatch(items, before);
    this.world.sched.after(this.world.rng.int(1, 8), 'ledger.expiry.commit', () => {
      if (this.world.fault('txAborts')) return;
      if (this.db.commit({ before, after: batch.after, events: batch.events, deadLetters: [], allowances: [], offset: null }) === 'committed') this.scheduleOutbox();
    });
  }

  private scheduleOutbox(): void {
    if (this.outboxScheduled) return;
    this.outboxScheduled = true;
    this.world.sched.after(this.world.rng.int(1, 10), 'ledger.outbox', () => {
      this.outboxScheduled = false;
      this.publishOutbox();
    });
  }

  /** OutboxPublisher: sends every committed row in order, then marks them sent; a crash in between sends them again. */
  private publishOutbox(): void {
    const rows = this.db.outbox.slice();
    if (rows.length === 0) return;
    const world = this.world;
    for (const row of rows) {
      for (const e of row.events) {
        const admissionId = 'admissionId' in e.event.data ? (e.event.data as { admissionId: string }).admissionId : null;
        const message: LedgerMessage = { id: `${e.accountId}:${e.version}`, type: e.event.type, accountId: e.accountId, version: e.version, admissionId };
        world.topics.ledger.append(e.accountId, message, world.nowMs);
      }
      for (const b of row.balances) {
        this.published.set(`${b.accountId}:${b.version}`, b.availableCredits);
        world.topics.balances.append(b.accountId, b, world.nowMs);
      }
      for (const reason of row.deadLetters) world.deadLetter('credit-ledger', reason);
    }
    if (world.fault('outboxResend')) {
      this.scheduleOutbox();
      return;
    }
    this.db.outbox.splice(0, rows.length);
  }
}
