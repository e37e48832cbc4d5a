import { EVENTS, type EventType, ledgerEventTypes } from './events';

/** Kafka topic names. The `.v1` is the topic's contract version: a breaking change gets a new topic. */
export const TOPICS = {
  admissions: 'access.admissions.v1',
  usage: 'access.usage.v1',
  ledger: 'access.ledger.v1',
  balances: 'access.balances.v1',
  load: 'access.load.v1',
  limits: 'access.limits.v1',
  reputation: 'access.reputation.v1',
  deadletter: 'access.deadletter.v1',
} as const;
export type TopicName = (typeof TOPICS)[keyof typeof TOPICS];

/** What a message key is made of; `messageKeyFor` computes it, and it is also the CloudEvent `subject`. */
export type MessageKeyKind = 'accountId' | 'model' | 'model|plan|priority' | 'accountId|userId' | 'sourceTopic';

export type TopicSpec = {
  readonly name: TopicName;
  readonly partitions: number;
  /** Compacted topics keep the latest message per key: they carry state (balances, limits, reputation). */
  readonly compacted: boolean;
  readonly key: MessageKeyKind;
  readonly eventTypes: readonly EventType[];
  readonly writtenBy: string;
};

/**
 * Every topic, its shape and what it carries. Partition counts cap how far each consumer group scales out;
 * keys put all of an account's events in one partition, so per-account order holds.
 */
export const topicCatalog: readonly TopicSpec[] = [
  { name: TOPICS.admissions, partitions: 8, compacted: false, key: 'accountId', eventTypes: [EVENTS.admissionDecided], writtenBy: 'admission' },
  { name: TOPICS.usage, partitions: 8, compacted: false, key: 'accountId', eventTypes: [EVENTS.usageRequestCompleted], writtenBy: 'internal services, admission /complete' },
  { name: TOPICS.ledger, partitions: 8, compacted: false, key: 'accountId', eventTypes: ledgerEventTypes, writtenBy: 'credit-ledger (outbox)' },
  { name: TOPICS.balances, partitions: 8, compacted: true, key: 'accountId', eventTypes: [EVENTS.balanceChanged], writtenBy: 'credit-ledger' },
  { name: TOPICS.load, partitions: 3, compacted: false, key: 'model', eventTypes: [EVENTS.loadSampled], writtenBy: 'model-serving fleets' },
  { name: TOPICS.limits, partitions: 1, compacted: true, key: 'model|plan|priority', eventTypes: [EVENTS.limitsAdjusted], writtenBy: 'load-feedback' },
  { name: TOPICS.reputation, partitions: 4, compacted: true, key: 'accountId|userId', eventTypes: [EVENTS.reputationChanged], writtenBy: 'load-feedback' },
  { name: TOPICS.deadletter, partitions: 1, compacted: false, key: 'sourceTopic', eventTypes: [EVENTS.deadletterRecorded], writtenBy: 'any consumer' },
];

const topicByEventType = new Map<EventType, TopicName>(
  topicCatalog.flatMap((topic) => topic.eventTypes.map((type) => [type, topic.name] as const)),
);

/** The one topic an event type is published to. */
export function topicFor(type: EventType): TopicName {
  const topic = topicByEventType.get(type);
  // Unreachable while topics.spec.ts proves every event type has exactly one topic.
  if (topic === undefined) throw new Error(`no topic carries ${type}`);
  return topic;
}

export function topicSpec(name: TopicName): TopicSpec {
  const spec = topicCatalog.find((topic) => topic.name === name);
  if (spec === undefined) throw new Error(`unknown topic ${name}`);
  return spec;
}
