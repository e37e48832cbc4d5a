import { EVENTS, SOURCES, makeEvent, newEventId, type AccessEvent, type AnyAccessEvent } from '@access/contracts';
import type { ClassMultiplier, LimitChange } from '@access/load-feedback-domain';
import type { EventPublisher } from '@access/platform-kafka';
import type { ReputationUpdate, UserReputation } from '@access/load-feedback-application';
import { userKey } from '@access/load-feedback-application';

/** `limits.adjusted` for one change (its reason, and the numbers it was computed from). */
export function limitsAdjustedEvent(change: LimitChange, time: string): AccessEvent<typeof EVENTS.limitsAdjusted> {
  return makeEvent(EVENTS.limitsAdjusted, {
    id: newEventId(),
    source: SOURCES.loadFeedback,
    time,
    data: {
      model: change.model,
      plan: change.plan,
      priority: change.priority,
      multiplier: change.multiplier,
      reason: change.reason,
      inputs: change.inputs,
    },
  });
}

export function reputationChangedEvent(update: ReputationUpdate, time: string): AccessEvent<typeof EVENTS.reputationChanged> {
  return makeEvent(EVENTS.reputationChanged, {
    id: newEventId(),
    source: SOURCES.loadFeedback,
    time,
    data: { accountId: update.accountId, userId: update.userId, factor: update.factor, signals: update.signals },
  });
}

/** Publishes limit changes and reputation updates; each call resolves once Kafka acknowledged all of it. */
export class FeedbackPublisher {
  constructor(
    private readonly publisher: EventPublisher,
    private readonly topics: { readonly limits: string; readonly reputation: string },
    private readonly now: () => Date = () => new Date(),
  ) {}

  publishLimits(changes: readonly LimitChange[]): Promise<void> {
    const time = this.now().toISOString();
    return this.publisher.publishMany(changes.map((c) => ({ topic: this.topics.limits, event: limitsAdjustedEvent(c, time) })));
  }

  publishReputation(updates: readonly ReputationUpdate[]): Promise<void> {
    const time = this.now().toISOString();
    return this.publisher.publishMany(updates.map((u) => ({ topic: this.topics.reputation, event: reputationChangedEvent(u, time) })));
  }
}

/** The multipliers in a read-back of access.limits.v1 (other event types on the topic are ignored). */
export function restoredMultipliers(events: Iterable<AnyAccessEvent>): ClassMultiplier[] {
  const out: ClassMultiplier[] = [];
  for (const e of events) {
    if (e.type !== EVENTS.limitsAdjusted) continue;
    out.push({ model: e.data.model, plan: e.data.plan, priority: e.data.priority, multiplier: e.data.multiplier });
  }
  return out;
}

/** The last change of each class in a read-back of access.limits.v1: why each multiplier is what it is. */
export function restoredChanges(events: Iterable<AnyAccessEvent>) {
  const out: { model: string; plan: string; priority: ClassMultiplier['priority']; multiplier: number; reason: string; inputs: Record<string, number>; atMs: number }[] = [];
  for (const e of events) {
    if (e.type !== EVENTS.limitsAdjusted) continue;
    out.push({ model: e.data.model, plan: e.data.plan, priority: e.data.priority, multiplier: e.data.multiplier, reason: e.data.reason, inputs: e.data.inputs, atMs: Date.parse(e.time) });
  }
  return out;
}

/** The factors in a read-back of access.reputation.v1, each as computed and published at its event's time. */
export function restoredReputation(events: Iterable<AnyAccessEvent>): Map<string, UserReputation> {
  const out = new Map<string, UserReputation>();
  for (const e of events) {
    if (e.type !== EVENTS.reputationChanged) continue;
    if (e.data.factor === 1) continue; // neutral is admission's default: nothing to remember
    out.set(userKey(e.data.accountId, e.data.userId), { factor: e.data.factor, atMs: Date.parse(e.time), publishedFactor: e.data.factor });
  }
  return out;
}
