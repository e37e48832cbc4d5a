/**
 * The load-feedback service's ports over Kafka and ClickHouse: restore from the compacted limits and reputation
 * topics, consume samples and decisions live (a group of its own per process, never committed: they are only
 * worth reading live), publish limits and reputation, and read usage signals from ClickHouse.
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { SOURCES } from '@access/contracts';
import type { FeedbackPorts } from '@access/load-feedback-application';
import type { Clickhouse } from '@access/platform-clickhouse';
import { EventConsumer, EventPublisher, type ConsumedMessage, type EventProducer, type Kafka, type KafkaAdmin } from '@access/platform-kafka';
import { AbuseSignalsSource } from '../clickhouse/abuse-signals-source';
import type { LoadFeedbackTopics } from '../topics';
import { readCompactedTopic } from './compacted-reader';
import { FeedbackPublisher, restoredChanges, restoredMultipliers, restoredReputation } from './feedback-events';

export interface KafkaFeedbackOptions {
  readonly kafka: Kafka;
  readonly admin: KafkaAdmin;
  readonly producer: EventProducer;
  readonly clickhouse: Clickhouse;
  readonly topics: LoadFeedbackTopics;
  readonly restoreTimeoutMs: number;
  /** A consumed message that is not a valid event; it went to the dead-letter topic. */
  readonly onDeadLetter?: (message: ConsumedMessage, reason: string) => void;
}

export function kafkaFeedbackPorts(options: KafkaFeedbackOptions): FeedbackPorts {
  const { kafka, admin, producer, topics } = options;
  const instance = `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  const groupId = `load-feedback-${instance}`;
  const publisher = new FeedbackPublisher(new EventPublisher(producer), topics);
  const consumer = new EventConsumer(kafka, producer, {
    groupId,
    topics: [topics.load, topics.admissions],
    fromBeginning: false,
    commitOffsets: false,
    maxWaitMs: 50,
    consumerName: 'load-feedback',
    source: SOURCES.loadFeedback,
    deadLetterTopic: topics.deadletter,
    ...(options.onDeadLetter === undefined ? {} : { onDeadLetter: options.onDeadLetter }),
  });
  return {
    async restore() {
      const read = (topic: string, what: string) =>
        readCompactedTopic({ kafka, admin, topic, groupId: `load-feedback-restore-${what}-${instance}`, timeoutMs: options.restoreTimeoutMs });
      const [limits, reputation] = await Promise.all([read(topics.limits, 'limits'), read(topics.reputation, 'reputation')]);
      return { multipliers: restoredMultipliers(limits.values()), reputation: restoredReputation(reputation.values()), lastChanges: restoredChanges(limits.values()) };
    },
    inputs: {
      start: (handle) => consumer.start((events) => handle(events.map((e) => e.event))),
      async stop() {
        await consumer.stop().catch(() => undefined);
        await admin.deleteGroups([groupId]).catch(() => undefined);
      },
      get isConsuming() {
        return consumer.isRunning && consumer.assignment.length > 0;
      },
    },
    publishLimits: (changes) => publisher.publishLimits(changes),
    publishReputation: (updates) => publisher.publishReputation(updates),
    signals: new AbuseSignalsSource(options.clickhouse),
  };
}
