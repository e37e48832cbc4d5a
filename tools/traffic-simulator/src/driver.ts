/**
 * The HTTP side of the traffic simulator: it speaks the public contracts only (CONTRACTS.md), through the
 * client SDK (`@access/client`) as the internal services would. Opens the accounts and grants on the ledger, sends what the pure Workload
 * says is due to admission, runs each admitted request for its planned time and completes it with its
 * actual meters. Bounded: a global rate cap, a cap on HTTP calls in flight and on requests running, and
 * `stop()` cancels what is still running (so holds and slots are given back) within a deadline.
 */
import { AccessApiError, AccessClient, type AdmissionResult } from '@access/client';
import {
  RateCap,
  Workload,
  accountsOf,
  admissionBody,
  classifyAnswer,
  completionBody,
  emptyStats,
  recordAnswer,
  type AccountSetup,
  type CompletionPlan,
  type PlannedRequest,
  type SimStats,
} from './workload';

export const driverLimits = {
  /** HTTP calls in flight at once; arrivals beyond it are counted as capped, not queued. */
  httpInFlightMax: 64,
  /** Admitted requests running at once (each has a timer); beyond it the oldest is completed early. */
  runningMax: 5_000,
  httpTimeoutMs: 5_000,
  /** The SDK's retries per call (network errors, 503 with Retry-After), bounded in attempts and time. */
  callAttemptsMax: 3,
  callRetryMsMax: 10_000,
  /** How long setup waits for the ledger to answer. */
  setupWaitMsMax: 60_000,
  /** How long stop() spends cancelling what is still running. */
  stopDeadlineMs: 8_000,
  tickMs: 50,
} as const;

export interface DriverOptions {
  admissionUrl: string;
  ledgerUrl: string;
  token: string;
  runId: string;
  seed: number;
  /** The global cap on admission requests per second. */
  ratePerSecond: number;
  log: (line: string) => void;
  nowMs?: () => number;
}

interface Running {
  request: PlannedRequest;
  admissionId: string;
  plan: CompletionPlan;
  startedAtMs: number;
  timer: NodeJS.Timeout;
}

export class TrafficDriver {
  readonly accounts: AccountSetup[];
  readonly stats: SimStats;
  private readonly workload: Workload;
  private readonly cap: RateCap;
  private readonly now: () => number;
  private readonly client: AccessClient;
  private readonly running = new Map<string, Running>();
  private readonly inFlight = new Set<Promise<void>>();
  private loop: NodeJS.Timeout | undefined;
  private stopping = false;

  constructor(private readonly options: DriverOptions) {
    this.now = options.nowMs ?? Date.now;
    const t0 = this.now();
    this.accounts = accountsOf(options.runId);
    this.workload = new Workload(options.runId, options.seed, t0);
    this.cap = new RateCap(options.ratePerSecond, Math.max(1, Math.ceil(options.ratePerSecond)), t0);
    this.stats = emptyStats(t0);
    this.client = new AccessClient({
      admissionUrl: options.admissionUrl,
      ledgerUrl: options.ledgerUrl,
      token: options.token,
      userAgent: 'access-traffic-simulator',
      requestTimeoutMs: driverLimits.httpTimeoutMs,
      retry: { attemptsMax: driverLimits.callAttemptsMax, totalMsMax: driverLimits.callRetryMsMax },
    });
  }

  /** Opens every account on its plan and grants its credits; idempotent (fixed ids), retried until the ledger answers. */
  async setup(): Promise<void> {
    const deadline = this.now() + driverLimits.setupWaitMsMax;
    for (const account of this.accounts) {
      const steps: { what: string; send: () => Promise<unknown> }[] = [
        { what: `open ${account.accountId}`, send: () => this.client.openAccount(account.accountId, account.plan) },
        ...account.grants.map((g) => ({ what: `grant ${g.grantId} to ${account.accountId}`, send: () => this.client.grant(account.accountId, g) })),
      ];
      for (const step of steps) {
        for (;;) {
          if (this.stopping) return;
          try {
            await step.send();
            break;
          } catch (error) {
            // A 4xx other than "not ready" will not get better by retrying: the simulator's data is wrong.
            if (error instanceof AccessApiError && error.status >= 400 && error.status < 500 && error.status !== 429) throw new Error(`${step.what}: ${error.message}`);
            if (this.now() > deadline) throw new Error(`the ledger did not accept ${step.what} within ${driverLimits.setupWaitMsMax} ms: ${error instanceof Error ? error.message : String(error)}`);
          }
          await sleep(1_000);
        }
      }
    }
    this.options.log(`opened ${this.accounts.length} accounts (${this.accounts.map((a) => `${a.accountId}:${a.plan}`).join(', ')})`);
  }

  start(): void {
    this.loop = setInterval(() => this.tick(), driverLimits.tickMs);
  }

  private tick(): void {
    if (this.stopping) return;
    const now = this.now();
    for (const request of this.workload.due(now)) {
      if (this.inFlight.size >= driverLimits.httpInFlightMax || !this.cap.take(now)) {
        this.stats.cappedRequests += 1;
        continue;
      }
      this.track(this.admit(request));
    }
  }

  private track(work: Promise<void>): void {
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
  }

  private async admit(request: PlannedRequest): Promise<void> {
    this.stats.sentRequests += 1;
    let result: AdmissionResult | undefined;
    try {
      result = await this.client.admit(admissionBody(request));
    } catch (error) {
      this.options.log(`admission call failed: ${error instanceof Error ? error.message.slice(0, 300) : String(error)}`);
    }
    const answer = classifyAnswer(result);
    const now = this.now();
    recordAnswer(this.stats, request, answer, now);
    if (answer.retryAfterMs !== undefined) this.workload.deferUser(request.userId, now, answer.retryAfterMs);
    if (answer.admissionId !== undefined && !this.stopping) this.run(request, answer.admissionId, now);
  }

  /** The request "runs" for its planned time, then completes with its actual meters. */
  private run(request: PlannedRequest, admissionId: string, startedAtMs: number): void {
    if (this.running.size >= driverLimits.runningMax) {
      const oldest = this.running.values().next().value;
      if (oldest !== undefined) this.finish(oldest, { ...oldest.plan, status: 'cancelled' });
    }
    const plan = this.workload.completionOf(request);
    const timer = setTimeout(() => {
      const entry = this.running.get(admissionId);
      if (entry !== undefined) this.finish(entry, entry.plan);
    }, plan.runMs);
    this.running.set(admissionId, { request, admissionId, plan, startedAtMs, timer });
    this.stats.running = this.running.size;
  }

  private finish(entry: Running, plan: CompletionPlan): void {
    clearTimeout(entry.timer);
    this.running.delete(entry.admissionId);
    this.stats.running = this.running.size;
    this.track(this.complete(entry, plan));
  }

  private async complete(entry: Running, plan: CompletionPlan): Promise<void> {
    // The SDK retries network errors and 503 (completing twice is a no-op on the server).
    try {
      await this.client.complete(entry.admissionId, completionBody(entry.request, plan, entry.startedAtMs, this.now()));
      this.stats.completionsSent += 1;
    } catch (error) {
      this.options.log(`completion of ${entry.admissionId} failed: ${error instanceof Error ? error.message.slice(0, 300) : String(error)}`);
      this.stats.completionErrors += 1;
    }
  }

  /**
   * Stops sending; what is still running is cancelled now with the meters of its elapsed share (what a
   * cancelled job produced), so that no hold or slot is left to expire. Bounded by stopDeadlineMs.
   */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    clearInterval(this.loop);
    const now = this.now();
    for (const entry of [...this.running.values()]) {
      const share = Math.min(1, Math.max(0, (now - entry.startedAtMs) / Math.max(1, entry.plan.runMs)));
      const meters = Object.fromEntries(Object.entries(entry.plan.meters).map(([k, v]) => [k, Math.floor(v * share)]));
      this.finish(entry, { ...entry.plan, status: 'cancelled', meters, gpuSeconds: Math.round(entry.plan.gpuSeconds * share * 1000) / 1000 });
    }
    await Promise.race([Promise.allSettled([...this.inFlight]), sleep(driverLimits.stopDeadlineMs)]);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
