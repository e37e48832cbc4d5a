import { reputationFactor, scoreReputation, type ReputationConfig, type ReputationSignals } from '@access/load-feedback-domain';
import { applicationLimits } from './limits';

/** One user's signals, as the abuse-signals view reports them. */
export interface UserSignals {
  readonly accountId: string;
  readonly userId: string;
  readonly signals: ReputationSignals;
}

/** Where signals come from (ClickHouse in the service, a list in tests). */
export interface SignalsSource {
  /** At most `limit` users, the most active first. */
  fetch(limit: number): Promise<UserSignals[]>;
}

/** A `reputation.changed` to publish. */
export interface ReputationUpdate {
  readonly accountId: string;
  readonly userId: string;
  readonly factor: number;
  readonly signals: Readonly<Record<string, number>>;
}

/** What the job remembers per user: the factor it computed last, when, and the factor admission has. */
export interface UserReputation {
  readonly factor: number;
  readonly atMs: number;
  readonly publishedFactor: number;
}

export interface ReputationPlan {
  readonly updates: ReputationUpdate[];
  readonly next: Map<string, UserReputation>;
}

const noSignals: ReputationSignals = {
  requests: 0,
  successRatio: 0,
  rejectionRatio: 0,
  failureRatio: 0,
  burstiness: 1,
  overshootCredits: 0,
  activeDays: 0,
};

export function userKey(accountId: string, userId: string): string {
  return `${accountId}|${userId}`;
}

/**
 * One run of the reputation job, pure: every user in `rows`, and every remembered user who is not
 * (no activity in the window: no evidence, so the factor decays towards 1), moves from the factor
 * computed last towards the target its signals point at, by the time elapsed since (a user seen for
 * the first time by one `intervalMs`). A factor is published when it differs from the one admission
 * has by at least `changeMin`; a user back at 1 is published as exactly 1 and then forgotten, so what
 * is remembered is bounded by the users who are active or not yet forgiven.
 */
export function planReputation(input: {
  readonly rows: readonly UserSignals[];
  readonly known: ReadonlyMap<string, UserReputation>;
  readonly nowMs: number;
  readonly intervalMs: number;
  readonly config: ReputationConfig;
  readonly changeMin?: number;
  readonly usersMax?: number;
  /**
   * False when the source stopped at its row limit: users missing from `rows` may still be active,
   * so they are kept as they are instead of being treated as having no evidence.
   */
  readonly complete?: boolean;
}): ReputationPlan {
  const changeMin = input.changeMin ?? applicationLimits.reputationChangeMin;
  const usersMax = input.usersMax ?? applicationLimits.reputationUsersMax;
  const { config, nowMs } = input;
  const next = new Map<string, UserReputation>();
  const updates: ReputationUpdate[] = [];
  const seen = new Set<string>();
  const visit = (accountId: string, userId: string, signals: ReputationSignals) => {
    const key = userKey(accountId, userId);
    if (seen.has(key)) return;
    seen.add(key);
    const known = input.known.get(key);
    const previous = known?.factor ?? 1;
    const elapsedMs = known === undefined ? input.intervalMs : Math.max(0, nowMs - known.atMs);
    const score = scoreReputation(signals, config);
    let factor = reputationFactor(signals, previous, elapsedMs, config);
    // Within changeMin of a target of exactly 1 is 1: the decay would otherwise approach it forever.
    if (score.target === 1 && Math.abs(factor - 1) < changeMin) factor = 1;
    // The computed factor is kept exact: a day-long earn moves it by less than 0.001 a minute, which
    // rounding would erase run after run. Only the published value is rounded.
    const rounded = Math.round(factor * 1000) / 1000;
    const published = known?.publishedFactor ?? 1;
    const publish = Math.abs(rounded - published) >= changeMin || (factor === 1 && published !== 1);
    if (publish) {
      updates.push({
        accountId,
        userId,
        factor: rounded,
        signals: publishedSignals(signals, score, published),
      });
    }
    const publishedFactor = publish ? rounded : published;
    // Back at neutral and published as neutral: nothing to remember (admission's default is 1).
    if (factor === 1 && publishedFactor === 1) return;
    if (next.size < usersMax) next.set(key, { factor, atMs: nowMs, publishedFactor });
  };
  for (const row of input.rows) visit(row.accountId, row.userId, row.signals);
  for (const [key, known] of input.known) {
    if (seen.has(key)) continue;
    if (input.complete === false) {
      if (next.size < usersMax) next.set(key, known);
      continue;
    }
    const split = key.indexOf('|');
    visit(key.slice(0, split), key.slice(split + 1), noSignals);
  }
  return { updates, next };
}

/** The numbers a `reputation.changed` event carries: the signals, the score's parts and the factor it replaces. */
function publishedSignals(signals: ReputationSignals, score: ReturnType<typeof scoreReputation>, previousFactor: number): ReputationUpdate['signals'] {
  return {
    requests: signals.requests,
    successRatio: round6(signals.successRatio),
    rejectionRatio: round6(signals.rejectionRatio),
    failureRatio: round6(signals.failureRatio),
    burstiness: round6(signals.burstiness),
    overshootCredits: signals.overshootCredits,
    activeDays: signals.activeDays,
    target: round6(score.target),
    bonus: round6(score.bonus),
    penaltyRejection: round6(score.penalties.rejection),
    penaltyFailure: round6(score.penalties.failure),
    penaltyBurstiness: round6(score.penalties.burstiness),
    penaltyOvershoot: round6(score.penalties.overshoot),
    previousFactor,
  };
}

function round6(value: number): number {
  return Number.isFinite(value) ? Number(value.toPrecision(6)) : 0;
}

export interface ReputationJobOptions {
  readonly config: ReputationConfig;
  readonly source: SignalsSource;
  readonly publish: (updates: readonly ReputationUpdate[]) => Promise<void>;
  readonly intervalMs: number;
  /** What access.reputation.v1 says admission has, read at start. */
  readonly restored: ReadonlyMap<string, UserReputation>;
}

/**
 * The periodic job: read signals, plan, publish, and remember the plan only once Kafka has the
 * updates (a failed run is simply repeated by the next one).
 */
export class ReputationJob {
  private known: Map<string, UserReputation>;
  private lastRun: { atMs: number; rows: number; published: number } | null = null;

  constructor(private readonly options: ReputationJobOptions) {
    this.known = new Map(options.restored);
  }

  async run(nowMs: number): Promise<{ rows: number; published: number }> {
    const limit = applicationLimits.reputationRowsPerRunMax;
    const rows = await this.options.source.fetch(limit);
    const plan = planReputation({
      rows,
      known: this.known,
      nowMs,
      intervalMs: this.options.intervalMs,
      config: this.options.config,
      complete: rows.length < limit,
    });
    if (plan.updates.length > 0) await this.options.publish(plan.updates);
    this.known = plan.next;
    this.lastRun = { atMs: nowMs, rows: rows.length, published: plan.updates.length };
    return { rows: rows.length, published: plan.updates.length };
  }

  /** Every user whose factor is not neutral, keyed as `userKey` makes them. */
  factors(): ReadonlyMap<string, UserReputation> {
    return this.known;
  }

  get remembered(): number {
    return this.known.size;
  }

  get last() {
    return this.lastRun;
  }
}
