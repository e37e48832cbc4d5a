/**
 * The callers: internal services that ask admission whether a job may run, run it, and report its completion.
 * They misbehave the ways real callers do: the same request twice, completions twice (through the service again,
 * or as a same-content copy under a new event id straight onto the usage topic), completions that come after the
 * reservation expired or never, and retries after a 503.
 *
 * They also keep what the invariants need from the caller's side: which requests are running (admitted and not yet
 * finished), and the decision of every admitted request.
 */
import type { AdmissionInput, AdmitOutcome, CompleteOutcome } from '@access/admission-application';
import { createUuidv7Generator, EVENTS, type AdmissionDecidedV1, type UsageRequestCompletedV1 } from '@access/contracts';
import { envelope, type AdmissionReplicas } from './admission';
import type { SimLedger } from './ledger';
import { FLUSH } from './scheduler';
import type { World } from './world';

const PLANS = ['free', 'plus', 'pro', 'payg', 'enterprise'] as const;
const GRANTS = [0, 100, 500, 2_000, 20_000] as const;

interface Account {
  readonly accountId: string;
  readonly plan: string;
  readonly users: readonly string[];
}

interface Running {
  readonly accountId: string;
  readonly userId: string;
  readonly expiresAtMs: number;
}

export class Callers {
  readonly accounts: Account[] = [];
  /** Admitted and not finished, per "accountId/userId", by admissionId (what the caller believes holds a slot). */
  readonly running = new Map<string, Map<string, Running>>();
  /** Every admitted decision the callers were told of. */
  readonly admitted = new Map<string, AdmissionDecidedV1>();
  /** Users whose running count changed in this step. */
  readonly touchedUsers = new Set<string>();
  private nextRequest = 0;
  private readonly nextEventId: () => string;
  stopped = false;

  constructor(
    private readonly world: World,
    private readonly admission: AdmissionReplicas,
    ledger: SimLedger,
  ) {
    this.nextEventId = createUuidv7Generator(() => world.nowMs, () => world.rng.next());
    for (let a = 0; a < world.options.accounts; a++) {
      const plan = world.rng.pick(PLANS);
      const users = Array.from({ length: world.rng.int(1, 3) }, (_, u) => `u-${u}`);
      const account = { accountId: `acct-${a}`, plan, users };
      this.accounts.push(account);
      ledger.openAccount(account.accountId, plan, world.rng.pick(GRANTS));
    }
    this.scheduleNext();
  }

  private scheduleNext(): void {
    this.world.sched.after(this.world.rng.exp(this.world.options.requestMeanMs), 'caller.request', () => {
      if (this.stopped) return;
      this.scheduleNext();
      return this.request();
    });
  }

  private request(): typeof FLUSH {
    const world = this.world;
    const account = world.rng.pick(this.accounts);
    const userId = world.rng.pick(account.users);
    const video = world.rng.chance(0.6);
    const input: AdmissionInput = {
      requestId: `req-${this.nextRequest++}`,
      accountId: account.accountId,
      userId,
      model: video ? 'sora-2' : 'codex-1',
      endpoint: video ? 'video.generate' : 'code.generate',
      priority: world.rng.chance(0.8) ? 'standard' : 'batch',
      estimate: video
        ? { meters: { video_seconds: world.rng.int(1, 10) }, dimensions: { resolution: world.rng.pick(['480p', '720p', '1080p']) } }
        : { meters: { input_tokens: world.rng.int(1, 50) * 1_000, output_tokens: world.rng.int(1, 20) * 1_000 }, dimensions: {} },
    };
    this.admit(input, 0);
    if (world.fault('admitTwice')) world.sched.after(world.rng.int(0, 20), `caller.admit_again ${input.requestId}`, () => (this.admit(input, 0), FLUSH));
    return FLUSH;
  }

  private admit(input: AdmissionInput, attempt: number): void {
    this.admission.replicaFor(input.accountId).admit(input, (outcome) => this.onAdmit(input, outcome, attempt));
  }

  private onAdmit(input: AdmissionInput, outcome: AdmitOutcome, attempt: number): void {
    const world = this.world;
    world.count(`admit.${outcome.kind}${outcome.kind === 'decided' ? `.${outcome.event.decision}${outcome.replayed ? '.replayed' : ''}` : ''}`);
    if (outcome.kind === 'unavailable' && attempt < 3 && !this.stopped) {
      world.sched.after(world.rng.int(50, 500), `caller.retry ${input.requestId}`, () => (this.admit(input, attempt + 1), FLUSH));
      return;
    }
    if (outcome.kind !== 'decided' || outcome.event.decision !== 'admitted' || outcome.replayed) return;
    const event = outcome.event;
    this.admitted.set(event.admissionId, event);
    const expiresAtMs = Date.parse(event.reservationExpiresAt ?? event.decidedAt);
    const user = `${event.accountId}/${event.userId}`;
    let running = this.running.get(user);
    if (running === undefined) this.running.set(user, (running = new Map()));
    running.set(event.admissionId, { accountId: event.accountId, userId: event.userId, expiresAtMs });
    this.touchedUsers.add(user);
    if (world.fault('neverComplete')) return;
    const timeoutMs = world.options.reservationTimeoutMs;
    const durationMs = world.fault('completeEarly')
      ? world.rng.int(0, 3)
      : world.fault('completeLate')
        ? world.rng.int(timeoutMs + 1, timeoutMs * 2)
        : world.rng.int(10, Math.floor(timeoutMs / 4));
    world.sched.after(durationMs, `caller.finish ${event.admissionId}`, () => this.finish(event));
  }

  private finish(event: AdmissionDecidedV1): typeof FLUSH {
    const world = this.world;
    this.running.get(`${event.accountId}/${event.userId}`)?.delete(event.admissionId);
    const status = world.rng.chance(0.85) ? ('succeeded' as const) : world.rng.chance(0.6) ? ('failed' as const) : ('cancelled' as const);
    const scale = status === 'succeeded' ? world.rng.int(5, 15) / 10 : world.rng.chance(0.5) ? 0 : world.rng.int(1, 5) / 10;
    const meters: Record<string, number> = {};
    for (const [name, quantity] of Object.entries(event.estimate.meters)) meters[name] = Math.round(quantity * scale);
    const data: UsageRequestCompletedV1 = {
      admissionId: event.admissionId,
      requestId: event.requestId,
      accountId: event.accountId,
      userId: event.userId,
      model: event.model,
      endpoint: event.endpoint,
      status,
      meters,
      dimensions: event.estimate.dimensions,
      gpuSeconds: 1,
      durationMs: world.nowMs - Date.parse(event.decidedAt),
      startedAt: event.decidedAt,
      endedAt: world.nowIso,
    };
    this.complete(data, 0);
    if (world.fault('completeTwice')) world.sched.after(world.rng.int(1, 2_000), `caller.complete_again ${data.admissionId}`, () => (this.complete(data, 0), FLUSH));
    if (world.fault('completionCopy')) {
      world.sched.after(world.rng.int(1, 5_000), `caller.completion_copy ${data.admissionId}`, () => {
        world.topics.usage.append(data.accountId, envelope(EVENTS.usageRequestCompleted, this.nextEventId(), world.nowIso, data), world.nowMs);
      });
    }
    return FLUSH;
  }

  private complete(data: UsageRequestCompletedV1, attempt: number): void {
    this.admission.replicaFor(data.accountId).complete(data, (outcome) => this.onComplete(data, outcome, attempt));
  }

  private onComplete(data: UsageRequestCompletedV1, outcome: CompleteOutcome, attempt: number): void {
    this.world.count(`complete.${outcome.kind}`);
    if (outcome.kind === 'unavailable' && attempt < 5) {
      this.world.sched.after(this.world.rng.int(50, 1_000), `caller.complete_retry ${data.admissionId}`, () => (this.complete(data, attempt + 1), FLUSH));
    }
  }
}
