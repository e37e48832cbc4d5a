/**
 * The SRE operations behind `access ledger verify | rebuild | replay`. Each works from the event log alone and
 * reports progress through a callback (the CLI draws the bar).
 */
import type { DataSource } from 'typeorm';
import type { CreditAccountEvent, Mismatch, StreamProblem } from '@access/credit-ledger-domain';
import { evolve, initialState, verifyStream } from '@access/credit-ledger-domain';
import type { StoredEvent } from '@access/credit-ledger-application';
import type { EventProducer } from '@access/platform-kafka';
import { CLOUDEVENTS_CONTENT_TYPE } from '@access/contracts';
import { balanceCloudEvent, ledgerCloudEvent, outboxMessage } from './event-codec';
import { defaultStoreLimits } from './limits';
import { LedgerSql, type ProjectedAccount, type ProjectionRows } from './postgres';
import { publishInOrder } from './publish';

export type Progress = (done: number, total: number) => void;

export interface AccountReport {
  readonly accountId: string;
  readonly mismatches: readonly Mismatch[];
  readonly problems: readonly StreamProblem[];
}

export interface VerifyReport {
  readonly accounts: number;
  readonly events: number;
  /** Accounts with a mismatch or a stream problem; empty when every balance is proven by its events. */
  readonly failed: readonly AccountReport[];
}

const chunkSize = defaultStoreLimits.operationsAccountsPerChunkMax;

/** `access ledger verify`: recompute every account from its events and compare with the projections. */
export async function verifyLedger(db: DataSource, options: { accountId?: string; onProgress?: Progress } = {}): Promise<VerifyReport> {
  const sql = new LedgerSql(db);
  const ids = options.accountId === undefined ? await sql.allAccountIds() : [options.accountId];
  const failed: AccountReport[] = [];
  let events = 0;
  for (let i = 0; i < ids.length; i += chunkSize) {
    const chunk = ids.slice(i, i + chunkSize);
    const streams = await sql.streamsOf(chunk);
    const projections = await sql.projectionsOf(chunk);
    const balanceOf = new Map(projections.balances.map((b) => [b.account_id, b]));
    for (const accountId of chunk) {
      const stream = streams.get(accountId) ?? [];
      events += stream.length;
      const report = verifyAccount(accountId, stream, balanceOf.get(accountId), projections);
      if (report.mismatches.length > 0 || report.problems.length > 0) failed.push(report);
    }
    options.onProgress?.(Math.min(i + chunkSize, ids.length), ids.length);
  }
  return { accounts: ids.length, events, failed };
}

/** One account's stream against its projection rows. */
function verifyAccount(accountId: string, stream: readonly StoredEvent[], balance: ProjectionRows['balances'][number] | undefined, projections: ProjectionRows): AccountReport {
  const domainEvents = stream.map((s) => s.event);
  const problems: StreamProblem[] = [];
  stream.forEach((s, index) => {
    if (s.version !== index + 1) problems.push({ version: s.version, type: s.event.type, message: `version ${s.version} at position ${index + 1}` });
  });
  if (balance === undefined) return { accountId, mismatches: [{ field: 'account_balances', projected: null, recomputed: stream.length }], problems };
  const report = verifyStream(domainEvents, {
    balanceCredits: Number(balance.balance_credits),
    heldCredits: Number(balance.held_credits),
    availableCredits: Number(balance.available_credits),
    pendingCredits: Number(balance.pending_credits),
    version: Number(balance.version),
    asOf: balance.as_of_ms === null ? null : new Date(Number(balance.as_of_ms)).toISOString(),
    grants: projections.grants
      .filter((g) => g.account_id === accountId)
      .map((g) => ({ grantId: g.grant_id, remainingCredits: Number(g.remaining_credits), heldCredits: Number(g.held_credits) })),
  });
  const mismatches: Mismatch[] = [...report.mismatches];
  // Open reservations and overshoot are not in verifyStream's projection: recomputed here, independently
  // of `evolve`, from the events' own fields.
  const open = openReservationsOf(domainEvents);
  const projected = new Map(projections.reservations.filter((r) => r.account_id === accountId).map((r) => [r.admission_id, Number(r.credits)]));
  for (const [admissionId, credits] of open) {
    if (projected.get(admissionId) !== credits) mismatches.push({ field: `open_reservations.${admissionId}`, projected: projected.get(admissionId) ?? null, recomputed: credits });
  }
  for (const [admissionId, credits] of projected) {
    if (!open.has(admissionId)) mismatches.push({ field: `open_reservations.${admissionId}`, projected: credits, recomputed: null });
  }
  const overshoot = domainEvents.reduce((sum, e) => (e.type === 'reservation_settled' ? sum + e.data.overshootCredits : sum), 0);
  if (Number(balance.overshoot_credits) !== overshoot) mismatches.push({ field: 'overshootCredits', projected: Number(balance.overshoot_credits), recomputed: overshoot });
  problems.push(...report.problems);
  return { accountId, mismatches, problems };
}

function openReservationsOf(events: readonly CreditAccountEvent[]): Map<string, number> {
  const open = new Map<string, number>();
  for (const e of events) {
    if (e.type === 'credits_reserved') open.set(e.data.admissionId, e.data.credits);
    else if (e.type === 'reservation_settled' || e.type === 'reservation_voided' || e.type === 'reservation_expired') open.delete(e.data.admissionId);
  }
  return open;
}

/**
 * `access ledger rebuild`: recompute every projection from the events. Safe while the ledger runs: each chunk
 * locks its accounts' balance rows first, so an append to one of them waits and then writes its newer state.
 */
export async function rebuildProjections(db: DataSource, options: { onProgress?: Progress } = {}): Promise<{ accounts: number; events: number }> {
  const sql = new LedgerSql(db);
  const ids = await sql.allAccountIds();
  let events = 0;
  for (let i = 0; i < ids.length; i += chunkSize) {
    const chunk = ids.slice(i, i + chunkSize);
    await sql.rebuildProjections(chunk, (streams) =>
      [...streams].map(([accountId, stream]): ProjectedAccount => {
        events += stream.length;
        return recompute(accountId, stream);
      }),
    );
    options.onProgress?.(Math.min(i + chunkSize, ids.length), ids.length);
  }
  return { accounts: ids.length, events };
}

/** An account's state folded from its stream, and the grant of its latest plan period. */
function recompute(accountId: string, stream: readonly StoredEvent[]): ProjectedAccount {
  let state = initialState();
  let planGrantId: string | null = null;
  for (const { event } of stream) {
    state = evolve(state, event);
    if (event.type === 'credits_granted' && event.data.planPeriod !== null) planGrantId = event.data.grantId;
  }
  return [accountId, state, planGrantId];
}

export interface ReplayOptions {
  /** Events that occurred at or after this instant. */
  readonly since?: string;
  /** Events after this stream position (per account). */
  readonly afterVersion?: number;
  readonly accountId?: string;
  readonly topic: string;
  readonly onProgress?: Progress;
  readonly pageSize?: number;
}

/**
 * `access ledger replay`: republish ledger events to Kafka in their global order (so each account's in its
 * stream order), with their original ids: consumers that saw them already recognise them.
 * Account lifecycle events (opened, plan changed) are not on the contract topic and are skipped.
 */
export async function replayLedger(db: DataSource, producer: EventProducer, options: ReplayOptions): Promise<{ published: number }> {
  const sql = new LedgerSql(db);
  const filter = { since: options.since, afterVersion: options.afterVersion, accountId: options.accountId };
  const totalCount = await sql.countPublishable(filter);
  const pageSize = options.pageSize ?? 5_000;
  let after = '0';
  let published = 0;
  options.onProgress?.(0, totalCount);
  for (;;) {
    const page = await sql.publishablePage(filter, after, pageSize);
    if (page.last === null) break;
    const messages = page.events.flatMap((stored) => {
      const cloudEvent = ledgerCloudEvent(stored);
      if (cloudEvent === null) return [];
      const { key, value } = outboxMessage(cloudEvent);
      return [{ topic: options.topic, key, value, headers: { 'content-type': CLOUDEVENTS_CONTENT_TYPE } }];
    });
    await publishInOrder(producer, messages);
    published += messages.length;
    after = page.last;
    options.onProgress?.(published, totalCount);
  }
  return { published };
}

/**
 * `access ledger republish-balances`: every account's (or one account's) balance, recomputed from its events,
 * published again as `ledger.balance_changed` to the compacted balances topic. For a balances topic that lost its
 * messages (deleted, or compacted past a consumer's view): admission rebuilds its view of balances from it. A
 * balance message carries the account's stream version, so a consumer that already has that version or a newer
 * one ignores it, and publishing twice changes nothing.
 */
export async function republishBalances(
  db: DataSource,
  producer: EventProducer,
  options: { topic: string; accountId?: string; onProgress?: Progress },
): Promise<{ published: number }> {
  const sql = new LedgerSql(db);
  const ids = options.accountId === undefined ? await sql.allAccountIds() : [options.accountId];
  let published = 0;
  options.onProgress?.(0, ids.length);
  for (let i = 0; i < ids.length; i += chunkSize) {
    const chunk = ids.slice(i, i + chunkSize);
    const streams = await sql.streamsOf(chunk);
    const messages = chunk.flatMap((accountId) => {
      const stream = streams.get(accountId) ?? [];
      if (stream.length === 0) return [];
      const state = stream.reduce((s, stored) => evolve(s, stored.event), initialState());
      const { key, value } = outboxMessage(balanceCloudEvent(accountId, state));
      return [{ topic: options.topic, key, value, headers: { 'content-type': CLOUDEVENTS_CONTENT_TYPE } }];
    });
    await publishInOrder(producer, messages);
    published += messages.length;
    options.onProgress?.(Math.min(i + chunkSize, ids.length), ids.length);
  }
  return { published };
}
