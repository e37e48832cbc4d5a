/**
 * The projection tables (account_balances, account_grants, open_reservations): written by every batch as a diff
 * against the accounts' states before it, and rewritten whole by `rebuild`.
 */
import type { QueryRunner } from 'typeorm';
import type { CreditAccountEvent, CreditAccountState, GrantState } from '@access/credit-ledger-domain';
import { unallocatedCredits } from '@access/credit-ledger-domain';
import type { DecidedBatch } from '@access/credit-ledger-application';

/** An account's state and the grant id of its current plan period (null: none, or unchanged by this batch). */
export type ProjectedAccount = readonly [accountId: string, state: CreditAccountState, planGrantId: string | null];

type GrantRow = { readonly accountId: string; readonly grant: GrantState };
type HoldRow = { readonly accountId: string; readonly admissionId: string; readonly requestId: string; readonly credits: number; readonly expiresAt: string };

/** The projection rows of the accounts a batch changed, diffed against their state before it. */
export async function writeProjections<Ref>(q: QueryRunner, batch: DecidedBatch<Ref>, before: ReadonlyMap<string, CreditAccountState>): Promise<void> {
  const changed = [...batch.after].filter(([accountId, state]) => state.version !== (before.get(accountId)?.version ?? 0));
  const planGrants = new Map<string, string>();
  for (const { accountId, event } of batch.events) {
    if (event.type === 'credits_granted' && event.data.planPeriod !== null) planGrants.set(accountId, event.data.grantId);
  }
  await upsertBalances(q, changed.map(([accountId, state]) => [accountId, state, planGrants.get(accountId) ?? null]));
  await writeGrantDiff(q, changed, before);
  await writeReservationDiff(q, batch, before);
}

/**
 * Inserts the projections of accounts whose rows were just deleted (`rebuild`). Accounts without events get
 * no rows.
 */
export async function insertProjections(q: QueryRunner, accounts: readonly ProjectedAccount[]): Promise<void> {
  const entries = accounts.filter(([, state]) => state.version > 0);
  if (entries.length === 0) return;
  await upsertBalances(q, entries);
  await upsertGrants(q, entries.flatMap(([accountId, state]) => [...state.grants.values()].map((grant) => ({ accountId, grant }))));
  await insertHolds(
    q,
    entries.flatMap(([accountId, state]) =>
      [...state.reservations.values()].map((r) => ({ accountId, admissionId: r.admissionId, requestId: r.requestId, credits: r.credits, expiresAt: r.reserved.data.expiresAt })),
    ),
  );
}

async function upsertBalances(q: QueryRunner, accounts: readonly ProjectedAccount[]): Promise<void> {
  if (accounts.length === 0) return;
  const column = <T>(f: (state: CreditAccountState) => T) => accounts.map(([, state]) => f(state));
  await q.query(
    `INSERT INTO account_balances AS t (account_id, plan, balance_credits, held_credits, available_credits, pending_credits,
                                   unallocated_credits, overshoot_credits, version, as_of, plan_grant_id, updated_at)
       SELECT a, p, bal, h, av, pe, u, o, v, t, g, now()
         FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[], $9::int[], $10::timestamptz[], $11::text[])
           AS x(a, p, bal, h, av, pe, u, o, v, t, g)
     ON CONFLICT (account_id) DO UPDATE SET plan = EXCLUDED.plan, balance_credits = EXCLUDED.balance_credits,
       held_credits = EXCLUDED.held_credits, available_credits = EXCLUDED.available_credits, pending_credits = EXCLUDED.pending_credits,
       unallocated_credits = EXCLUDED.unallocated_credits, overshoot_credits = EXCLUDED.overshoot_credits, version = EXCLUDED.version,
       as_of = EXCLUDED.as_of, plan_grant_id = COALESCE(EXCLUDED.plan_grant_id, t.plan_grant_id), updated_at = now()`,
    [
      accounts.map(([accountId]) => accountId),
      column((s) => s.plan),
      column((s) => s.balanceCredits),
      column((s) => s.heldCredits),
      column((s) => s.balanceCredits - s.heldCredits),
      column((s) => s.pendingCredits),
      column((s) => unallocatedCredits(s)),
      column((s) => s.totals.overshootCredits),
      column((s) => s.version),
      column((s) => (s.clockMs === null ? null : new Date(s.clockMs).toISOString())),
      accounts.map(([, , planGrantId]) => planGrantId),
    ],
  );
}

async function writeGrantDiff(q: QueryRunner, changed: readonly [string, CreditAccountState][], before: ReadonlyMap<string, CreditAccountState>): Promise<void> {
  const upserts: GrantRow[] = [];
  const deletes: [string, string][] = [];
  // Grants are few per account (liveGrantsMax) and `evolve` replaces exactly the grant objects an event
  // changes, so comparing by identity finds every changed, new and retired grant, including the holds a
  // void or an expiry released.
  for (const [accountId, state] of changed) {
    const was = before.get(accountId)?.grants ?? new Map<string, GrantState>();
    for (const [grantId, grant] of state.grants) if (grant !== was.get(grantId)) upserts.push({ accountId, grant });
    for (const grantId of was.keys()) if (!state.grants.has(grantId)) deletes.push([accountId, grantId]);
  }
  await upsertGrants(q, upserts);
  if (deletes.length > 0) {
    await q.query(
      `DELETE FROM account_grants g USING unnest($1::text[], $2::text[]) AS d(a, id) WHERE g.account_id = d.a AND g.grant_id = d.id`,
      [deletes.map((d) => d[0]), deletes.map((d) => d[1])],
    );
  }
}

async function upsertGrants(q: QueryRunner, rows: readonly GrantRow[]): Promise<void> {
  if (rows.length === 0) return;
  await q.query(
    `INSERT INTO account_grants (account_id, grant_id, source, priority, credits, remaining_credits, held_credits, effective_at, expires_at)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::bigint[], $6::bigint[], $7::bigint[], $8::timestamptz[], $9::timestamptz[])
     ON CONFLICT (account_id, grant_id) DO UPDATE SET remaining_credits = EXCLUDED.remaining_credits, held_credits = EXCLUDED.held_credits`,
    [
      rows.map((r) => r.accountId),
      rows.map((r) => r.grant.grantId),
      rows.map((r) => r.grant.source),
      rows.map((r) => r.grant.priority),
      rows.map((r) => r.grant.granted.data.credits),
      rows.map((r) => r.grant.remainingCredits),
      rows.map((r) => r.grant.heldCredits),
      rows.map((r) => r.grant.granted.data.effectiveAt),
      rows.map((r) => r.grant.granted.data.expiresAt),
    ],
  );
}

async function writeReservationDiff<Ref>(q: QueryRunner, batch: DecidedBatch<Ref>, before: ReadonlyMap<string, CreditAccountState>): Promise<void> {
  const touched = new Map<string, Set<string>>();
  for (const { accountId, event } of batch.events) {
    const admissionId = admissionOf(event);
    if (admissionId === null) continue;
    let ids = touched.get(accountId);
    if (ids === undefined) touched.set(accountId, (ids = new Set()));
    ids.add(admissionId);
  }
  const opened: HoldRow[] = [];
  const closed: [string, string][] = [];
  for (const [accountId, admissionIds] of touched) {
    const was = before.get(accountId)?.reservations;
    const now = batch.after.get(accountId)?.reservations;
    for (const admissionId of admissionIds) {
      const open = now?.get(admissionId);
      const wasOpen = was?.has(admissionId) === true;
      if (open !== undefined && !wasOpen) {
        opened.push({ accountId, admissionId, requestId: open.requestId, credits: open.credits, expiresAt: open.reserved.data.expiresAt });
      } else if (open === undefined && wasOpen) closed.push([accountId, admissionId]);
    }
  }
  await insertHolds(q, opened);
  if (closed.length > 0) {
    await q.query(
      `DELETE FROM open_reservations r USING unnest($1::text[], $2::text[]) AS d(a, id) WHERE r.account_id = d.a AND r.admission_id = d.id`,
      [closed.map((c) => c[0]), closed.map((c) => c[1])],
    );
  }
}

async function insertHolds(q: QueryRunner, rows: readonly HoldRow[]): Promise<void> {
  if (rows.length === 0) return;
  await q.query(
    `INSERT INTO open_reservations (account_id, admission_id, request_id, credits, expires_at)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::timestamptz[]) ON CONFLICT DO NOTHING`,
    [rows.map((o) => o.accountId), rows.map((o) => o.admissionId), rows.map((o) => o.requestId), rows.map((o) => o.credits), rows.map((o) => o.expiresAt)],
  );
}

function admissionOf(event: CreditAccountEvent): string | null {
  switch (event.type) {
    case 'credits_reserved':
    case 'reservation_settled':
    case 'reservation_voided':
    case 'reservation_expired':
      return event.data.admissionId;
    default:
      return null;
  }
}
