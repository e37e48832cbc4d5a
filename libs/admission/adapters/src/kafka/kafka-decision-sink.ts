import type { DecisionSink } from '@access/admission-application';
import { EVENTS, SOURCES, newEventId, type AccessEvent, type AdmissionDecidedV1, type UsageRequestCompletedV1 } from '@access/contracts';
import { encodeEvent, type EventProducer } from '@access/platform-kafka';
import type { AdmissionTopics } from './topics';

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
  ) {}

  publishDecision(data: AdmissionDecidedV1, traceparent?: string): Promise<void> {
    return this.producer.send(encodeEvent(decidedEnvelope(data), this.topics.admissions, traceparent));
  }

  publishCompletion(data: UsageRequestCompletedV1, traceparent?: string): Promise<void> {
    return this.producer.send(encodeEvent(completedEnvelope(data, new Date().toISOString()), this.topics.usage, traceparent));
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
