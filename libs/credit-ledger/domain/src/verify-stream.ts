/**
 * `access ledger verify`, the pure part: recomputes an account from its events alone and compares the
 * result with a stored projection. It is deliberately an independent fold (plain sums and maps, not
 * `evolve`), so that a bug in `evolve` shows up as a mismatch instead of being repeated here.
 * It also audits the stream itself: every problem found is reported with the event's version.
 */
import type { CreditAccountEvent, Draw } from './credit-account.events';
import { formatInstant, parseInstant } from './time';

/** What the store keeps per account (a `BalanceView` qualifies). Optional fields are checked when given. */
export type ProjectionToVerify = {
  readonly balanceCredits: number;
  readonly heldCredits: number;
  readonly availableCredits: number;
  readonly version: number;
  readonly pendingCredits?: number;
  readonly asOf?: string | null;
  readonly grants?: readonly { readonly grantId: string; readonly remainingCredits: number; readonly heldCredits?: number }[];
};

export type RecomputedGrant = { readonly grantId: string; readonly remainingCredits: number; readonly heldCredits: number };

export type RecomputedAccount = {
  readonly balanceCredits: number;
  readonly heldCredits: number;
  readonly availableCredits: number;
  readonly pendingCredits: number;
  readonly version: number;
  /** occurredAt of the last event: the instant the balance is computed at. */
  readonly asOf: string | null;
  /** Grants with credits left, or not yet effective, by grant id. */
  readonly grants: readonly RecomputedGrant[];
};

export type Mismatch = {
  readonly field: string;
  readonly projected: number | string | null;
  readonly recomputed: number | string | null;
};

export type StreamProblem = { readonly version: number; readonly type: string; readonly message: string };

export type VerifyReport = {
  /** No mismatch and no problem. */
  readonly ok: boolean;
  readonly recomputed: RecomputedAccount;
  readonly mismatches: readonly Mismatch[];
  readonly problems: readonly StreamProblem[];
};

type Grant = { credits: number; effectiveAtMs: number; remaining: number; held: number };
type Hold = { credits: number; draws: readonly Draw[] };

/** Recomputes the account from `events` (the whole stream, in order) and audits the stream. */
export function recomputeStream(events: readonly CreditAccountEvent[]): { recomputed: RecomputedAccount; problems: StreamProblem[] } {
  const problems: StreamProblem[] = [];
  const grants = new Map<string, Grant>();
  const holds = new Map<string, Hold>();
  const resolutions = new Map<string, CreditAccountEvent['type']>();
  const adjustments = new Set<string>();
  let opened = false;
  let settled = 0;
  let forfeited = 0;
  let adjusted = 0;
  let lastMs: number | null = null;

  events.forEach((event, index) => {
    const version = index + 1;
    const problem = (message: string) => problems.push({ version, type: event.type, message });
    const atMs = parseInstant(event.occurredAt);
    if (atMs === null) problem(`occurredAt is not an ISO-8601 instant: ${event.occurredAt}`);
    else if (lastMs !== null && atMs < lastMs) problem('occurredAt goes back in time');
    else lastMs = atMs;
    if (event.type !== 'account_opened' && !opened) problem('event before account_opened');

    const grantFor = (grantId: string): Grant | undefined => {
      const grant = grants.get(grantId);
      if (grant === undefined) problem(`unknown grant ${grantId}`);
      return grant;
    };
    const holdOn = (draws: readonly Draw[], sign: 1 | -1) => {
      for (const draw of draws) {
        const grant = grantFor(draw.grantId);
        if (grant === undefined) continue;
        if (draw.credits <= 0) problem(`draw of ${draw.credits} credits on ${draw.grantId}`);
        if (sign === 1 && lastMs !== null && grant.effectiveAtMs > lastMs) problem(`draw on grant ${draw.grantId} before it is effective`);
        grant.held += sign * draw.credits;
        if (grant.held > grant.remaining) problem(`grant ${draw.grantId} holds more than it has`);
      }
    };
    const takeFrom = (grantId: string, credits: number) => {
      const grant = grantFor(grantId);
      if (grant === undefined) return;
      grant.remaining -= credits;
      if (grant.remaining < grant.held) problem(`grant ${grantId} would fall below its holds (${grant.remaining} < ${grant.held})`);
    };
    const endHold = (admissionId: string, releasedOrHeld: number, field: string): void => {
      const hold = holds.get(admissionId);
      if (hold === undefined) {
        if (releasedOrHeld !== 0) problem(`${field} ${releasedOrHeld} for admission ${admissionId} that holds nothing`);
        return;
      }
      if (hold.credits !== releasedOrHeld) problem(`${field} ${releasedOrHeld} != held ${hold.credits}`);
      holdOn(hold.draws, -1);
      holds.delete(admissionId);
    };

    switch (event.type) {
      case 'account_opened':
        if (opened) problem('account opened twice');
        opened = true;
        break;
      case 'plan_changed':
        break;
      case 'credits_granted': {
        const d = event.data;
        if (grants.has(d.grantId)) problem(`grant ${d.grantId} granted twice`);
        if (!(d.credits > 0)) problem(`grant of ${d.credits} credits`);
        grants.set(d.grantId, { credits: d.credits, effectiveAtMs: parseInstant(d.effectiveAt) ?? 0, remaining: d.credits, held: 0 });
        break;
      }
      case 'credits_reserved': {
        const d = event.data;
        if (holds.has(d.admissionId) || resolutions.has(d.admissionId)) problem(`admission ${d.admissionId} reserved again`);
        const drawn = d.draws.reduce((sum, draw) => sum + draw.credits, 0);
        if (drawn > d.credits) problem(`draws ${drawn} exceed the hold ${d.credits}`);
        holdOn(d.draws, 1);
        holds.set(d.admissionId, { credits: d.credits, draws: d.draws });
        break;
      }
      case 'reservation_settled': {
        const d = event.data;
        const previous = resolutions.get(d.admissionId);
        if (previous === 'reservation_settled' || previous === 'reservation_voided') problem(`admission ${d.admissionId} resolved twice`);
        endHold(d.admissionId, d.heldCredits, 'heldCredits');
        if (d.releasedCredits !== Math.max(0, d.heldCredits - d.actualCredits)) problem('releasedCredits != max(0, held - actual)');
        if (d.overshootCredits !== Math.max(0, d.actualCredits - d.heldCredits)) problem('overshootCredits != max(0, actual - held)');
        const drawn = d.draws.reduce((sum, draw) => sum + draw.credits, 0);
        if (drawn > d.actualCredits) problem(`draws ${drawn} exceed the actual cost ${d.actualCredits}`);
        for (const draw of d.draws) takeFrom(draw.grantId, draw.credits);
        settled += d.actualCredits;
        resolutions.set(d.admissionId, event.type);
        break;
      }
      case 'reservation_voided':
      case 'reservation_expired': {
        const d = event.data;
        if (!holds.has(d.admissionId)) problem(`admission ${d.admissionId} has no open reservation`);
        endHold(d.admissionId, d.releasedCredits, 'releasedCredits');
        resolutions.set(d.admissionId, event.type);
        break;
      }
      case 'grant_expired': {
        const d = event.data;
        if (d.forfeitedCredits < 0 || d.debtRepaidCredits < 0) problem('negative forfeiture');
        takeFrom(d.grantId, d.forfeitedCredits + d.debtRepaidCredits);
        forfeited += d.forfeitedCredits;
        break;
      }
      case 'credits_adjusted':
        if (adjustments.has(event.data.adjustmentId)) problem(`adjustment ${event.data.adjustmentId} recorded twice`);
        adjustments.add(event.data.adjustmentId);
        adjusted += event.data.credits;
        break;
      default: {
        const _exhaustive: never = event;
        problem(`unknown event ${(_exhaustive as { type: string }).type}`);
      }
    }
  });

  let granted = 0;
  let pending = 0;
  let held = 0;
  for (const grant of grants.values()) {
    if (lastMs !== null && grant.effectiveAtMs <= lastMs) granted += grant.credits;
    else pending += grant.credits;
  }
  for (const hold of holds.values()) held += hold.credits;
  const balanceCredits = granted - settled - forfeited + adjusted;
  return {
    problems,
    recomputed: {
      balanceCredits,
      heldCredits: held,
      availableCredits: balanceCredits - held,
      pendingCredits: pending,
      version: events.length,
      asOf: lastMs === null ? null : formatInstant(lastMs),
      grants: [...grants]
        .filter(([, grant]) => grant.remaining > 0)
        .map(([grantId, grant]) => ({ grantId, remainingCredits: grant.remaining, heldCredits: grant.held }))
        .sort((a, b) => (a.grantId < b.grantId ? -1 : a.grantId > b.grantId ? 1 : 0)),
    },
  };
}

/**
 * Recomputes the account from its events and compares it with `projection`, which must describe the
 * stream as recorded (e.g. `toBalanceView(state)` without a later asOf).
 */
export function verifyStream(events: readonly CreditAccountEvent[], projection: ProjectionToVerify): VerifyReport {
  const { recomputed, problems } = recomputeStream(events);
  const mismatches: Mismatch[] = [];
  const compare = (field: string, projected: number | string | null, actual: number | string | null) => {
    if (projected !== actual) mismatches.push({ field, projected, recomputed: actual });
  };
  compare('balanceCredits', projection.balanceCredits, recomputed.balanceCredits);
  compare('heldCredits', projection.heldCredits, recomputed.heldCredits);
  compare('availableCredits', projection.availableCredits, recomputed.availableCredits);
  compare('version', projection.version, recomputed.version);
  if (projection.pendingCredits !== undefined) compare('pendingCredits', projection.pendingCredits, recomputed.pendingCredits);
  if (projection.asOf !== undefined) {
    const projectedMs = projection.asOf === null ? null : parseInstant(projection.asOf);
    compare('asOf', projectedMs === null ? projection.asOf : formatInstant(projectedMs), recomputed.asOf);
  }
  if (projection.grants !== undefined) {
    const expected = new Map(recomputed.grants.map((grant) => [grant.grantId, grant]));
    const seen = new Set<string>();
    for (const grant of projection.grants) {
      seen.add(grant.grantId);
      const actual = expected.get(grant.grantId);
      compare(`grants.${grant.grantId}.remainingCredits`, grant.remainingCredits, actual?.remainingCredits ?? 0);
      if (grant.heldCredits !== undefined) compare(`grants.${grant.grantId}.heldCredits`, grant.heldCredits, actual?.heldCredits ?? 0);
    }
    for (const grant of recomputed.grants) {
      if (!seen.has(grant.grantId)) compare(`grants.${grant.grantId}.remainingCredits`, null, grant.remainingCredits);
    }
  }
  return { ok: mismatches.length === 0 && problems.length === 0, recomputed, mismatches, problems };
}
