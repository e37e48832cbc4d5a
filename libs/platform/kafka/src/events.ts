import { randomBytes } from 'node:crypto';

/**
 * CloudEvents over Kafka: publishing typed events and consuming them parsed and validated at the edge,
 * with poison messages routed to the dead-letter topic (with the reason) and the consumer moving on.
 */
import { CLOUDEVENTS_CONTENT_TYPE, EVENTS, TOPICS, makeEvent, messageKeyFor, newEventId, type AnyAccessEvent, deadletterData } from '@access/contracts';
import { decodeEvent, type ContentMode } from './decode';
import { NonRetriableError, errorMessage, isRetriable } from './errors';
import { EventProducer, RawBatchConsumer, type BatchContext, type ConsumedMessage, type Kafka, type RawConsumerOptions } from './kafka';
import { startProcessSpans } from './tracing';

export { CLOUDEVENTS_CONTENT_TYPE };

export interface ConsumedEvent<E extends AnyAccessEvent = AnyAccessEvent> {
  event: E;
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  /** W3C trace context of the producer, when it sent one. */
  traceparent: string | undefined;
  /**
   * The `traceparent` of this consumer's `process` span for the message (tracing off: the producer's, when valid):
   * the parent of the work the message causes here (tracing.ts). Set by EventConsumer.
   */
  processTraceparent?: string;
  timestampMs: number;
  /** How the producer encoded it (CloudEvents structured or binary mode). */
  mode: ContentMode;
  /** The message as consumed: a dead letter keeps its original bytes. */
  message: ConsumedMessage;
}

/** A fresh W3C traceparent (version 00, sampled) for work that starts here. */
export function newTraceparent(): string {
  return `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`;
}

/** The traceparent of a child span in the same trace. */
export function childTraceparent(parent: string | undefined): string {
  const match = parent && /^00-([0-9a-f]{32})-[0-9a-f]{16}-([0-9a-f]{2})$/.exec(parent);
  if (!match) return newTraceparent();
  return `00-${match[1]}-${randomBytes(8).toString('hex')}-${match[2]}`;
}

export function encodeEvent(event: AnyAccessEvent, topic: string, traceparent?: string) {
  const headers: Record<string, string> = { 'content-type': CLOUDEVENTS_CONTENT_TYPE };
  if (traceparent) headers.traceparent = traceparent;
  return { topic, key: messageKeyFor(event), value: JSON.stringify(event), headers };
}

export interface DeadLetterOptions {
  /** Names the consumer in the record (`data.consumer`). */
  consumer: string;
  /** CloudEvents `source` of the dead-letter event: the service that writes it. */
  source: string;
  /** Defaults to access.deadletter.v1; tests give each run its own. */
  topic?: string;
  /** When it was recorded (defaults to now). */
  time?: string;
}

/**
 * The one dead-letter record of a message: `deadletter.recorded` with the message's original key and bytes (the
 * contract's maxima applied), the reason and the consumer, keyed by the source topic, carrying the original
 * traceparent. Every consumer that writes dead letters to Kafka builds them here.
 */
export function deadLetterMessage(message: ConsumedMessage, reason: string, options: DeadLetterOptions) {
  const event = makeEvent(EVENTS.deadletterRecorded, {
    id: newEventId(),
    source: options.source,
    time: options.time ?? new Date().toISOString(),
    subject: message.topic,
    data: deadletterData({ ...message, error: reason, consumer: options.consumer }),
  });
  return encodeEvent(event, options.topic ?? TOPICS.deadletter, message.headers.traceparent);
}

export class EventPublisher {
  constructor(private readonly producer: EventProducer) {}

  /** Publishes one event; resolves when acknowledged by the broker (acks=all). */
  publish(topic: string, event: AnyAccessEvent, traceparent?: string): Promise<void> {
    return this.producer.send(encodeEvent(event, topic, traceparent));
  }

  publishMany(items: readonly { topic: string; event: AnyAccessEvent; traceparent?: string }[]): Promise<void> {
    return this.producer.sendMany(items.map((i) => encodeEvent(i.event, i.topic, i.traceparent)));
  }
}

export interface EventConsumerOptions extends Omit<RawConsumerOptions, 'onRetry'> {
  /** Names this consumer in dead-letter records and logs. */
  consumerName: string;
  /** Identifies the dead-letter events this consumer writes (CloudEvents `source`). */
  source: string;
  onDeadLetter?: (message: ConsumedMessage, reason: string) => void;
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
  /** Defaults to access.deadletter.v1; tests give each run its own. */
  deadLetterTopic?: string;
  /** Reject events whose type the topic does not carry (default true). */
  checkTopic?: boolean;
}

export type EventBatchHandler = (events: ConsumedEvent[], context: BatchContext) => Promise<void>;

/**
 * Parses every message with the contract schemas; what fails goes to `access.deadletter.v1` with the reason.
 * A handler that throws a NonRetriableError is re-run one event at a time, and only the events that still fail
 * that way are dead-lettered. Retriable errors retry the batch (handlers are idempotent by event id).
 * Offsets are committed only after the handler and the dead-letter writes succeed.
 */
export class EventConsumer {
  private readonly raw: RawBatchConsumer;

  constructor(
    kafka: Kafka,
    private readonly producer: EventProducer,
    private readonly options: EventConsumerOptions,
  ) {
    this.raw = new RawBatchConsumer(kafka, options);
  }

  get assignment(): string[] {
    return this.raw.assignment;
  }

  get isRunning(): boolean {
    return this.raw.isRunning;
  }

  /** See RawBatchConsumer.generation: changes at every rebalance. */
  get generation(): number {
    return this.raw.generation;
  }

  start(handler: EventBatchHandler): Promise<void> {
    return this.raw.start(async (messages, context) => {
      const good: ConsumedEvent[] = [];
      const poison: { message: ConsumedMessage; reason: string }[] = [];
      for (const message of messages) {
        const decoded = decodeEvent(message, { checkTopic: this.options.checkTopic ?? true });
        if (decoded.ok) good.push(consumedEvent(message, decoded.event, decoded.mode));
        else poison.push({ message, reason: decoded.reason });
      }
      const spans = startProcessSpans(good.map((g) => g.message), this.options.groupId);
      good.forEach((g, i) => (g.processTraceparent = spans.traceparentOf(i)));
      try {
        if (good.length > 0) await this.handleGood(good, poison, handler, context);
        if (poison.length > 0) await this.deadLetter(poison);
      } catch (error) {
        spans.end(error);
        throw error;
      }
      spans.end();
    });
  }

  private async handleGood(good: ConsumedEvent[], poison: { message: ConsumedMessage; reason: string }[], handler: EventBatchHandler, context: BatchContext): Promise<void> {
    try {
      await handler(good, context);
    } catch (error) {
      if (isRetriable(error)) throw error;
      for (const item of good) {
        try {
          await handler([item], context);
        } catch (single) {
          if (isRetriable(single)) throw single;
          poison.push({ message: item.message, reason: errorMessage(single) });
        }
      }
    }
  }

  private async deadLetter(items: { message: ConsumedMessage; reason: string }[]): Promise<void> {
    const time = new Date().toISOString();
    const options = { consumer: this.options.consumerName, source: this.options.source, topic: this.options.deadLetterTopic, time };
    await this.producer.sendMany(
      items.map(({ message, reason }) => {
        this.options.onDeadLetter?.(message, reason);
        return deadLetterMessage(message, reason, options);
      }),
    );
  }

  stop(): Promise<void> {
    return this.raw.stop();
  }
}

/** A decoded message as handlers receive it. */
export function consumedEvent(message: ConsumedMessage, event: AnyAccessEvent, mode: ContentMode): ConsumedEvent {
  return {
    event,
    topic: message.topic,
    partition: message.partition,
    offset: message.offset,
    key: message.key,
    traceparent: message.headers.traceparent,
    timestampMs: message.timestampMs,
    mode,
    message,
  };
}

export { NonRetriableError };
