/**
 * Traces across Kafka, after the OpenTelemetry messaging semantic conventions: a PRODUCER span `send <topic>` per
 * message written (its W3C `traceparent`/`tracestate` go into the message headers) and a CONSUMER span
 * `process <topic>` per message handled, a child of the context in the message's headers, so one trace follows a
 * request from service to service.
 *
 * Batches: each message still gets its own `process` span (the conventions' choice when the processing of each
 * message can be told apart): a batch carries messages of many traces, and a single batch span could be a child of
 * only one of them. A message's span lasts as long as the batch that handled it, and the work it causes (the
 * ledger's events and balances, the ingest's inserts) names it as parent.
 *
 * Tracing off (`tracingEnabled()` false), nothing here allocates a span: headers carry the consumed `traceparent`
 * on, when it is valid.
 */
import { SpanKind, startSpan, tracingEnabled, type Attributes, type TraceHeaders, type Traced } from '@access/platform-observability';
import type { ConsumedMessage, OutgoingMessage } from './kafka';

/**
 * Messaging attributes (semantic conventions 1.45, still experimental there, so spelled out here rather than
 * imported from the package's `incubating` entry, as its README advises).
 */
export const MESSAGING = {
  system: 'messaging.system',
  destinationName: 'messaging.destination.name',
  operationType: 'messaging.operation.type',
  operationName: 'messaging.operation.name',
  partitionId: 'messaging.destination.partition.id',
  consumerGroup: 'messaging.consumer.group.name',
  kafkaOffset: 'messaging.kafka.offset',
  kafkaMessageKey: 'messaging.kafka.message.key',
  batchMessageCount: 'messaging.batch.message.count',
} as const;

/** The W3C trace context in a message's headers (undefined parts left out). */
export function traceHeadersOf(headers: Readonly<Record<string, string | undefined>>): TraceHeaders {
  const { traceparent, tracestate } = headers;
  return tracestate === undefined ? { traceparent } : { traceparent, tracestate };
}

/** `headers` with the trace context of `traced` in place of any it had. */
export function withTraceHeaders(headers: Readonly<Record<string, string>>, traced: Traced): Record<string, string> {
  const { traceparent: _p, tracestate: _s, ...rest } = headers;
  return { ...rest, ...traced.headers() } as Record<string, string>;
}

/** A PRODUCER span for a message about to be written to `topic`, a child of `parent`. */
export function startSendSpan(topic: string, parent: string | TraceHeaders | undefined, key?: string | null): Traced {
  const attributes: Attributes = {
    [MESSAGING.system]: 'kafka',
    [MESSAGING.destinationName]: topic,
    [MESSAGING.operationType]: 'send',
    [MESSAGING.operationName]: 'send',
  };
  if (key !== undefined && key !== null) attributes[MESSAGING.kafkaMessageKey] = key;
  return startSpan(`send ${topic}`, parent, { kind: SpanKind.PRODUCER, attributes });
}

/**
 * Sends one message in a PRODUCER span: `send` receives the message with the span's trace headers (tracing off:
 * the parent's) and the span ends with the broker's answer.
 */
export function tracedSend(message: OutgoingMessage, parent: string | undefined, send: (message: OutgoingMessage) => Promise<void>): Promise<void> {
  // Tracing off: no span and no extra await (admission sends every decision through here).
  if (!tracingEnabled()) return send({ ...message, headers: withTraceHeaders(message.headers ?? {}, startSpan('', parent, { kind: SpanKind.PRODUCER })) });
  return sendInSpan(message, parent, send);
}

async function sendInSpan(message: OutgoingMessage, parent: string | undefined, send: (message: OutgoingMessage) => Promise<void>): Promise<void> {
  const span = startSendSpan(message.topic, parent, message.key);
  const traced = { ...message, headers: withTraceHeaders(message.headers ?? {}, span) };
  try {
    await send(traced);
  } catch (error) {
    span.end(error);
    throw error;
  }
  span.end();
}

/** One CONSUMER span per message of a batch; `end` closes them all with the batch's outcome. */
export interface ProcessSpans {
  /** The `traceparent` of message `i`'s span (tracing off: the message's own, when valid). */
  traceparentOf(i: number): string | undefined;
  end(error?: unknown): void;
}

const none: ProcessSpans = { traceparentOf: () => undefined, end: () => undefined };

/** Starts `process <topic>` spans for `messages` (one partition's batch), children of their headers' contexts. */
export function startProcessSpans(messages: readonly ConsumedMessage[], consumerGroup: string): ProcessSpans {
  if (messages.length === 0) return none;
  if (!tracingEnabled()) {
    // Nothing to record: the handles only check and carry each message's own context on.
    const spans = messages.map((m) => startSpan('', traceHeadersOf(m.headers), { kind: SpanKind.CONSUMER }));
    return { traceparentOf: (i) => spans[i]?.traceparent, end: () => undefined };
  }
  const spans = messages.map((m) =>
    startSpan(`process ${m.topic}`, traceHeadersOf(m.headers), {
      kind: SpanKind.CONSUMER,
      attributes: {
        [MESSAGING.system]: 'kafka',
        [MESSAGING.destinationName]: m.topic,
        [MESSAGING.operationType]: 'process',
        [MESSAGING.operationName]: 'process',
        [MESSAGING.partitionId]: String(m.partition),
        [MESSAGING.kafkaOffset]: Number(m.offset),
        [MESSAGING.consumerGroup]: consumerGroup,
        [MESSAGING.batchMessageCount]: messages.length,
        ...(m.key === null ? {} : { [MESSAGING.kafkaMessageKey]: m.key }),
      },
    }),
  );
  return {
    traceparentOf: (i) => spans[i]?.traceparent,
    end: (error) => {
      for (const s of spans) s.end(error);
    },
  };
}
