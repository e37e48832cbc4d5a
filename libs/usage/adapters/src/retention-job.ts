import type { Logger } from '@access/platform-observability';
import { errorMessage } from '@access/platform-kafka';
import type { ClickhouseUsageStore } from './clickhouse-usage-store';
import type { IngestMetrics } from './metrics';

/**
 * Drops expired month partitions now and then. A failed run is logged and tried again at the next tick: retention
 * is not urgent, and ClickHouse being down must not stop ingestion.
 */
export class RetentionJob {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: ClickhouseUsageStore,
    private readonly options: { retentionDays: number; intervalMs: number; logger: Logger; metrics: IngestMetrics; now?: () => number },
  ) {}

  /** One pass; returns what was dropped. */
  async runOnce(): Promise<{ table: string; partition: string }[]> {
    const dropped = await this.store.dropExpired((this.options.now ?? Date.now)(), this.options.retentionDays);
    for (const d of dropped) {
      this.options.metrics.retentionDropped.inc({ table: d.table });
      this.options.logger.info(d, 'retention: dropped month partition');
    }
    return dropped;
  }

  start(): void {
    const tick = () => {
      this.running = this.runOnce()
        .then(() => undefined)
        .catch((error: unknown) => this.options.logger.warn({ err: errorMessage(error) }, 'retention pass failed; will try again'));
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
