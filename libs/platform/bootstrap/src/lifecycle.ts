/**
 * What a process must undo when it stops, in the reverse order it was set up (a consumer stops before the
 * producer it dead-letters through disconnects, the pool closes last), and the periodic jobs it runs meanwhile.
 * Pure apart from timers, so the order and the no-overlap rule are tested without a process.
 */

export interface LifecycleLogger {
  warn(extra: Record<string, unknown>, message: string): void;
}

export class Lifecycle {
  private readonly hooks: { name: string; run: () => Promise<unknown> | unknown }[] = [];
  private readonly timers: NodeJS.Timeout[] = [];
  /** Job rounds running now: shutdown waits for them before the first step. */
  private readonly rounds = new Set<Promise<unknown>>();
  private stopped = false;

  constructor(private readonly logger: LifecycleLogger) {}

  /** True once `stop` began: loops that reschedule themselves check it. */
  get stopping(): boolean {
    return this.stopped;
  }

  /** Registers what to undo at shutdown; hooks run last registered first. */
  onStop(name: string, run: () => Promise<unknown> | unknown): void {
    this.hooks.push({ name, run });
  }

  /**
   * Runs `job` every `intervalMs` (and once right away with `immediately`), one round at a time: a round still
   * running when the next is due makes that one skip. A failed round is logged; the next round retries.
   */
  every(name: string, intervalMs: number, job: () => Promise<unknown>, options: { immediately?: boolean } = {}): void {
    let running = false;
    const tick = () => {
      if (running || this.stopped) return;
      running = true;
      const round = job()
        .catch((error: unknown) => this.logger.warn({ job: name, err: error instanceof Error ? error.message : String(error) }, 'job round failed; next round retries'))
        .finally(() => {
          running = false;
          this.rounds.delete(round);
        });
      this.rounds.add(round);
    };
    const timer = setInterval(tick, intervalMs);
    timer.unref();
    this.timers.push(timer);
    if (options.immediately === true) tick();
  }

  /**
   * Stops the jobs and waits for the rounds in progress, then runs every hook, last registered first. A failing hook is logged and the others still
   * run; the returned promise rejects afterwards (naming the failed hooks) so the process exits non-zero.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const timer of this.timers) clearInterval(timer);
    await Promise.all(this.rounds);
    const failed: string[] = [];
    for (const hook of [...this.hooks].reverse()) {
      try {
        await hook.run();
      } catch (error) {
        failed.push(hook.name);
        this.logger.warn({ hook: hook.name, err: error instanceof Error ? error.message : String(error) }, 'shutdown step failed');
      }
    }
    if (failed.length > 0) throw new Error(`shutdown steps failed: ${failed.join(', ')}`);
  }
}
