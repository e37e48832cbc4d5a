import type { IngestObserver, UsageStorePort } from './ports';

/**
 * Drops expired month partitions now and then. A failed run is reported and tried again at the next tick: retention
 * is not urgent, and ClickHouse being down must not stop ingestion.
 */
export class RetentionJob {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: Pick<UsageStorePort, 'dropExpired'>,
    private readonly options: { retentionDays: number; intervalMs: number; observer: Pick<IngestObserver, 'retentionDropped' | 'retentionFailed'>; now?: () => number },
  ) {}

  /** One pass; returns what was dropped. */
  async runOnce(): Promise<{ table: string; partition: string }[]> {
    const dropped = await this.store.dropExpired((this.options.now ?? Date.now)(), this.options.retentionDays);
    for (const d of dropped) this.options.observer.retentionDropped(d);
    return dropped;
  }

  start(): void {
    const tick = () => {
      this.running = this.runOnce()
        .then(() => undefined)
        .catch((error: unknown) => this.options.observer.retentionFailed(error));
    };
    tick();
    this.timer = setInterval(tick, this.options.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }
}
