/** admission's metrics, and the observers that feed them (and log what an operator should see). */
import type { ServiceObserver } from '@access/admission-application';
import { errorMessage } from '@access/platform-kafka';
import { Counter, Gauge, Histogram, type Logger, type Registry } from '@access/platform-observability';

export function admissionMetrics(registry: Registry, logger: Logger) {
  const registers = [registry];
  const decisions = new Counter({ name: 'admission_decisions_total', help: 'Decisions made, by outcome and reason', labelNames: ['decision', 'reason'], registers });
  const publishFailures = new Counter({ name: 'admission_publish_failures_total', help: 'Decisions Kafka did not acknowledge', labelNames: ['decision'], registers });
  const stateEvents = new Counter({ name: 'admission_state_events_total', help: 'Events read into state, by type (poison included)', labelNames: ['type'], registers });
  const evicted = new Counter({ name: 'admission_idempotency_evicted_total', help: 'requestIds forgotten before their 24 h because the cache was full', registers });
  const unpriced = new Counter({ name: 'admission_completions_unpriced_total', help: 'Completions the price book could not price (allowance kept as used)', registers });
  // Fine buckets around the 100 ms goal, so that p50 and p99 can be interpolated from them (npm start, bench/freshness).
  const balanceFreshness = new Histogram({
    name: 'admission_balance_freshness_seconds',
    help: 'Time from the publication of the message that changed a balance (typically a completion) to admission applying the new balance',
    buckets: [0.005, 0.01, 0.02, 0.03, 0.04, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2, 5, 10],
    registers,
  });
  const takeover = new Histogram({
    name: 'admission_partition_takeover_seconds',
    help: 'From a partition being assigned to this replica to deciding for it: fencing the previous owner and applying its last decisions',
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
    registers,
  });
  const forwards = new Counter({ name: 'admission_forwards_total', help: 'Requests forwarded to the replica that owns the account, by outcome', labelNames: ['outcome'], registers });

  const service: ServiceObserver = {
    decided: (decision, reason) => decisions.inc({ decision, reason: reason ?? 'none' }),
    rejectedPublishFailed: (error) => {
      publishFailures.inc({ decision: 'rejected' });
      logger.warn({ err: errorMessage(error) }, 'a rejected decision was not published');
    },
    admittedPublishFailed: (error) => {
      publishFailures.inc({ decision: 'admitted' });
      logger.error({ err: errorMessage(error) }, 'an admitted decision could not be made durable; undone and answered 503');
    },
    idempotencyEvicted: (count) => evicted.inc(count),
    completionUnpriced: (admissionId, reason) => {
      unpriced.inc();
      logger.warn({ admissionId, reason }, 'completion could not be priced');
    },
  };
  /** A gauge read at scrape time from the state in memory. */
  const state = (name: string, help: string, read: () => number) =>
    new Gauge({ name, help, registers, collect() { this.set(read()); } });
  return {
    service,
    state,
    stateEvent: (type: string) => stateEvents.inc({ type }),
    // Not clamped at 0: a negative figure means the completion's producer has a clock ahead of this one, which should show.
    balanceFreshness: (ms: number) => balanceFreshness.observe(ms / 1000),
    takeover: (_partition: number, ms: number) => takeover.observe(ms / 1000),
    forwarded: (outcome: string) => forwards.inc({ outcome }),
  };
}
