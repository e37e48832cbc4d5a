/**
 * The invariants, checked after every step on what that step could have changed (and on everything at the end):
 *
 * 1. credits-conserved: per account, balance = granted − settled − forfeited + adjusted and held = the open holds,
 *    with the sums taken from the appended events (not from `evolve`); at the end (and every `fullCheckEverySteps`),
 *    the domain's own `checkInvariants` and `verifyStream`, the formula of `access ledger verify`, on every account.
 * 2. settled-at-most-once: no admission is settled or voided twice (an expired hold is still settled once by a late
 *    completion, as the decider intends).
 * 3. one-usage-row-per-admission: never two rows of one admission in request_usage (or admission_decisions); at the
 *    end, after the pipeline drained, exactly one request_usage row for every completion on the usage topic.
 *    `usageRowsPer: 'event'` checks it per completion event id instead: what ingest guarantees until a second
 *    completion under a new event id is recognised by its admissionId (CONTRACTS.md "Additions (2026-12)", issue 13).
 * 4. limits-within-bound: no user runs more requests than its plan's concurrency, and an account's available credits
 *    (counting holds already past their expiry as released) go below zero only by the credits settled beyond the
 *    hold each settlement had (ARCHITECTURE.md: "an account goes below zero only by the difference between actual
 *    and estimated cost of requests already admitted").
 * 5. holds-never-negative: at the ledger (account, grants, the tally) and at admission (unreflected holds).
 * 6. balances-seen-were-published: every balance admission holds is one the ledger published (same version, same
 *    available credits).
 * 7. no-dead-letters: the callers only send valid events, so anything dead-lettered is a lost event.
 */
import { checkInvariants, verifyStream } from '@access/credit-ledger-domain';
import type { AdmissionReplicas } from './admission';
import type { Callers } from './callers';
import type { SimClickhouse } from './clickhouse';
import type { SimLedger } from './ledger';
import { InvariantViolation, type World } from './world';

export const INVARIANTS = [
  'credits-conserved',
  'settled-at-most-once',
  'one-usage-row-per-admission',
  'limits-within-bound',
  'holds-never-negative',
  'balances-seen-were-published',
  'no-dead-letters',
] as const;
export type InvariantName = (typeof INVARIANTS)[number];

export class Invariants {
  private deadLettersSeen = 0;
  private secondRowsSeen = 0;

  constructor(
    private readonly world: World,
    private readonly ledger: SimLedger,
    private readonly admission: AdmissionReplicas,
    private readonly clickhouse: SimClickhouse,
    private readonly callers: Callers,
  ) {}

  private fail(invariant: InvariantName, detail: string): never {
    throw new InvariantViolation(invariant, detail);
  }

  /** After every step: what the step could have changed. */
  afterStep(): void {
    const db = this.ledger.db;
    const twice = db.resolvedTwice[0];
    if (twice !== undefined) this.fail('settled-at-most-once', `admission ${twice} was settled or voided ${db.resolutions.get(twice)} times`);
    for (const accountId of db.touched) this.checkAccount(accountId);
    db.touched.clear();
    const secondRows = this.clickhouse.secondRows;
    for (; this.secondRowsSeen < secondRows.length; this.secondRowsSeen++) {
      const second = secondRows[this.secondRowsSeen]!;
      if (second.of === 'event' || this.world.options.usageRowsPer === 'admission') {
        this.fail('one-usage-row-per-admission', `${second.table} holds a second row of ${second.of} ${second.id}`);
      }
    }
    for (const key of this.callers.touchedUsers) this.checkConcurrency(key);
    this.callers.touchedUsers.clear();
    for (const replica of this.admission.replicas) {
      for (const accountId of replica.touched) this.checkAdmissionAccount(replica.id, replica, accountId);
      replica.touched.clear();
    }
    if (this.world.deadLetters.length > this.deadLettersSeen) {
      const dl = this.world.deadLetters[this.deadLettersSeen]!;
      this.deadLettersSeen = this.world.deadLetters.length;
      this.fail('no-dead-letters', `${dl.consumer} dead-lettered a valid event: ${dl.reason}`);
    }
  }

  private checkAccount(accountId: string): void {
    const db = this.ledger.db;
    const state = db.state(accountId);
    const t = db.tallies.get(accountId);
    if (t === undefined) return;
    if (state.heldCredits < 0 || t.held < 0) this.fail('holds-never-negative', `${accountId} holds ${state.heldCredits} (events say ${t.held})`);
    for (const grant of state.grants.values()) {
      if (grant.heldCredits < 0) this.fail('holds-never-negative', `${accountId} grant ${grant.grantId} holds ${grant.heldCredits}`);
    }
    const expected = t.granted - t.settled - t.forfeited + t.adjusted;
    if (state.balanceCredits !== expected) {
      this.fail('credits-conserved', `${accountId}: balance ${state.balanceCredits} != granted ${t.granted} − settled ${t.settled} − forfeited ${t.forfeited} + adjusted ${t.adjusted} = ${expected}`);
    }
    if (state.heldCredits !== t.held) this.fail('credits-conserved', `${accountId}: held ${state.heldCredits} != open holds by the events ${t.held}`);
    let due = 0;
    for (const r of state.reservations.values()) if (r.expiresAtMs <= this.world.nowMs) due += r.credits;
    const available = state.balanceCredits - state.heldCredits + due;
    if (available < -t.uncovered) {
      this.fail('limits-within-bound', `${accountId}: available ${available} (holds past expiry released) is below −${t.uncovered}, the credits settled beyond their holds`);
    }
  }

  private checkConcurrency(key: string): void {
    const [accountId] = key.split('/') as [string];
    const account = this.callers.accounts.find((a) => a.accountId === accountId)!;
    const limit = this.world.catalog.plans.plans.get(account.plan)!.concurrentRequests;
    let running = 0;
    const mine = this.callers.running.get(key);
    if (mine !== undefined) {
      for (const [admissionId, r] of mine) {
        if (r.expiresAtMs > this.world.nowMs) running++;
        else mine.delete(admissionId); // its slot expired at admission too
      }
    }
    if (running > limit) this.fail('limits-within-bound', `${key} runs ${running} requests at once; plan ${account.plan} allows ${limit}`);
  }

  private checkAdmissionAccount(replicaId: string, replica: AdmissionReplicas['replicas'][number], accountId: string): void {
    const view = replica.service.state.account(accountId);
    if (view === null) return;
    if (view.unreflectedHeldCredits < 0) this.fail('holds-never-negative', `${replicaId} ${accountId} counts ${view.unreflectedHeldCredits} unreflected held credits`);
    if (view.balanceVersion < 0) return;
    const published = this.ledger.published.get(`${accountId}:${view.balanceVersion}`);
    if (published !== view.ledgerAvailableCredits) {
      this.fail('balances-seen-were-published', `${replicaId} holds ${accountId} v${view.balanceVersion} available ${view.ledgerAvailableCredits}; the ledger published ${published ?? 'no such version'}`);
    }
  }

  /** Everything, on every account: periodically and at the end. */
  full(): void {
    const db = this.ledger.db;
    for (const [accountId, events] of db.streams) {
      const state = db.state(accountId);
      const problems = checkInvariants(state);
      if (problems.length > 0) this.fail('credits-conserved', `${accountId}: ${problems.join('; ')}`);
      const report = verifyStream(events, { balanceCredits: state.balanceCredits, heldCredits: state.heldCredits, availableCredits: state.balanceCredits - state.heldCredits, version: state.version });
      if (!report.ok) {
        const what = [...report.mismatches.map((m) => `${m.field}: projected ${m.projected}, recomputed ${m.recomputed}`), ...report.problems.map((p) => `v${p.version} ${p.type}: ${p.message}`)];
        this.fail('credits-conserved', `access ledger verify on ${accountId}: ${what.join('; ')}`);
      }
    }
  }

  /**
   * After the drain: every completed admission on the usage topic is exactly one request_usage row (with
   * `usageRowsPer: 'event'`, every completion event id is).
   */
  drained(): void {
    const rows = this.clickhouse.rowsPerAdmission.get('request_usage') ?? new Map<string, number>();
    for (const log of this.world.topics.usage.logs) {
      for (const m of log) {
        const admissionId = (m.value.data as { admissionId: string }).admissionId;
        const n = this.world.options.usageRowsPer === 'admission' ? (rows.get(admissionId) ?? 0) : this.clickhouse.rowsOfEvent('request_usage', m.value.id);
        if (n !== 1) this.fail('one-usage-row-per-admission', `admission ${admissionId} completed (event ${m.value.id}); request_usage holds ${n} rows of it after the drain`);
      }
    }
  }
}
