import type { DecisionSink } from '@access/admission-application';
import { EVENTS, SOURCES, newEventId, type AccessEvent, type AdmissionDecidedV1, type UsageRequestCompletedV1 } from '@access/contracts';
import { encodeEvent, tracedSend, type EventProducer, type OutgoingMessage } from '@access/platform-kafka';
import { REPLICA_HEADER } from './state-reader';
import type { AdmissionTopics } from './topics';

/** Where a replica's decisions go: through the fence of the account's partition (ReplicaCoordinator.publish). */
export interface FencedDecisionWriter {
  readonly replicaId: string;
  /** The partition of the admissions topic that holds the account. */
  partitionOf(accountId: string): number;
  publish(message: OutgoingMessage, partition: number): Promise<void>;
}

/**
 * Decisions to `access.admissions.v1` and completions to `access.usage.v1`, through the batching
 * idempotent producer (acks=all): each promise resolves when the broker has the event.
 *
 * Envelopes are assembled here rather than with `makeEvent`, whose zod validation would cost more than
 * the decision itself on the hot path; the data builders are checked against the contract schemas in
 * tests (decision-event.spec.ts, kafka-decision-sink.spec.ts).
 */
export class KafkaDecisionSink implements DecisionSink {
  constructor(
    private readonly producer: EventProducer,
    private readonly topics: Pick<AdmissionTopics, 'admissions' | 'usage'>,
    /** Replicas write decisions through their partition's fence; without one (tests, tools) the plain producer does. */
    private readonly fenced?: FencedDecisionWriter,
  ) {}

  /** Each message is sent in a PRODUCER span, a child of `traceparent`, whose context its headers carry. */
  publishDecision(data: AdmissionDecidedV1, traceparent?: string): Promise<void> {
    return tracedSend(encodeEvent(decidedEnvelope(data), this.topics.admissions), traceparent, (message) => {
      const fenced = this.fenced;
      if (fenced === undefined) return this.producer.send(message);
      message.headers = { ...message.headers, [REPLICA_HEADER]: fenced.replicaId };
      return fenced.publish(message, fenced.partitionOf(data.accountId));
    });
  }

  publishCompletion(data: UsageRequestCompletedV1, traceparent?: string): Promise<void> {
    return tracedSend(encodeEvent(completedEnvelope(data, new Date().toISOString()), this.topics.usage), traceparent, (message) => this.producer.send(message));
  }
}

export function decidedEnvelope(data: AdmissionDecidedV1): AccessEvent<typeof EVENTS.admissionDecided> {
  return {
    specversion: '1.0',
    id: newEventId(),
    source: SOURCES.admission,
    type: EVENTS.admissionDecided,
    time: data.decidedAt,
    subject: data.accountId,
    datacontenttype: 'application/json',
    data,
  };
}

export function completedEnvelope(data: UsageRequestCompletedV1, time: string): AccessEvent<typeof EVENTS.usageRequestCompleted> {
  return {
    specversion: '1.0',
    id: newEventId(),
    source: SOURCES.admission,
    type: EVENTS.usageRequestCompleted,
    time,
    subject: data.accountId,
    datacontenttype: 'application/json',
    data,
  };
}
