/**
 * Trace context in Kafka headers: what a producer injects (its `send` span's context, replacing any it had) and what
 * a consumer extracts (its `process` spans are children of the headers' context, with the messaging attributes).
 * Tracing off, the headers carry a valid context on unchanged and drop an invalid one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import { SpanKind, startTracing, tracingSettingsFromEnv, type Tracing } from '@access/platform-observability';
import type { ConsumedMessage, OutgoingMessage } from './kafka';
import { startProcessSpans, startSendSpan, traceHeadersOf, tracedSend, withTraceHeaders } from './tracing';

const traceId = '0af7651916cd43dd8448eb211c80319c';
const parent = `00-${traceId}-b7ad6b7169203331-01`;

const consumed = (offset: number, headers: Record<string, string>): ConsumedMessage => ({
  topic: 't.admissions', partition: 3, offset: String(offset), key: 'acct-1', value: Buffer.from('{}'), headers, timestampMs: 1,
});
const outgoing = (headers?: Record<string, string>): OutgoingMessage => ({ topic: 't.ledger', key: 'acct-1', value: '{}', headers });

/** What `tracedSend` handed to the producer. */
async function sent(message: OutgoingMessage, traceparent: string | undefined): Promise<OutgoingMessage> {
  let out: OutgoingMessage | undefined;
  await tracedSend(message, traceparent, async (m) => {
    out = m;
  });
  return out!;
}

describe('headers', () => {
  it.each<[string, Record<string, string | undefined>, object]>([
    ['traceparent and tracestate', { traceparent: parent, tracestate: 'k=v', other: 'x' }, { traceparent: parent, tracestate: 'k=v' }],
    ['traceparent only', { traceparent: parent }, { traceparent: parent }],
    ['none', { 'content-type': 'x' }, { traceparent: undefined }],
  ])('traceHeadersOf reads %s', (_name, headers, expected) => {
    expect(traceHeadersOf(headers)).toEqual(expected);
  });
});

describe('tracing off', () => {
  it.each<[string, string | undefined, Record<string, string>]>([
    ['a valid parent is carried on', parent, { 'content-type': 'c', traceparent: parent }],
    ['an invalid one is dropped, and the stale one removed', 'nonsense', { 'content-type': 'c' }],
    ['no parent: no trace header', undefined, { 'content-type': 'c' }],
  ])('send: %s', async (_name, traceparent, expected) => {
    const out = await sent(outgoing({ 'content-type': 'c', traceparent: 'stale', tracestate: 'stale' }), traceparent);
    expect(out.headers).toEqual(expected);
  });

  it('process: each message carries its own valid context on', () => {
    const spans = startProcessSpans([consumed(1, { traceparent: parent }), consumed(2, {}), consumed(3, { traceparent: 'x' })], 'g');
    expect([0, 1, 2].map((i) => spans.traceparentOf(i))).toEqual([parent, undefined, undefined]);
    spans.end();
  });
});

describe('tracing on (spans in memory)', () => {
  const exporter = new InMemorySpanExporter();
  let tracing: Tracing;
  beforeAll(async () => {
    tracing = await startTracing(tracingSettingsFromEnv('svc', {}), { processor: new SimpleSpanProcessor({ exporter }) });
  });
  afterAll(() => tracing.shutdown());

  it('send: the message carries its PRODUCER span, a child of the parent, in place of any context it had', async () => {
    exporter.reset();
    const out = await sent(outgoing({ 'content-type': 'c', traceparent: 'stale' }), parent);
    const [span] = exporter.getFinishedSpans();
    expect(span).toMatchObject({
      name: 'send t.ledger',
      kind: SpanKind.PRODUCER,
      attributes: { 'messaging.system': 'kafka', 'messaging.destination.name': 't.ledger', 'messaging.operation.type': 'send', 'messaging.kafka.message.key': 'acct-1' },
    });
    expect(span!.parentSpanContext?.spanId).toBe('b7ad6b7169203331');
    expect(out.headers).toEqual({ 'content-type': 'c', traceparent: `00-${traceId}-${span!.spanContext().spanId}-01` });
  });

  it('send: a refused send ends its span as an error and rethrows', async () => {
    exporter.reset();
    await expect(tracedSend(outgoing(), parent, () => Promise.reject(new Error('broker down')))).rejects.toThrow('broker down');
    expect(exporter.getFinishedSpans()[0]!.status).toMatchObject({ code: 2, message: 'broker down' });
  });

  it('process: one CONSUMER span per message, a child of the context in its headers, with the messaging attributes', () => {
    exporter.reset();
    const other = '00-11111111111111111111111111111111-2222222222222222-01';
    const spans = startProcessSpans([consumed(41, { traceparent: parent, tracestate: 'k=v' }), consumed(42, { traceparent: other })], 'ledger-group');
    const first = spans.traceparentOf(0)!;
    expect(first.slice(0, 35)).toBe(`00-${traceId}`);
    spans.end();
    const finished = exporter.getFinishedSpans();
    expect(finished.map((s) => s.parentSpanContext?.spanId)).toEqual(['b7ad6b7169203331', '2222222222222222']);
    expect(finished[0]!.spanContext().traceState?.get('k')).toBe('v');
    expect(finished[0]).toMatchObject({
      name: 'process t.admissions',
      kind: SpanKind.CONSUMER,
      attributes: {
        'messaging.system': 'kafka',
        'messaging.destination.name': 't.admissions',
        'messaging.operation.type': 'process',
        'messaging.destination.partition.id': '3',
        'messaging.kafka.offset': 41,
        'messaging.consumer.group.name': 'ledger-group',
        'messaging.batch.message.count': 2,
      },
    });
  });

  it('a consumer span continues into what it sends: headers extracted, then injected, one trace', async () => {
    exporter.reset();
    const spans = startProcessSpans([consumed(1, { traceparent: parent })], 'g');
    const out = await sent(outgoing(), spans.traceparentOf(0));
    spans.end();
    const [send, process] = exporter.getFinishedSpans();
    expect(send!.parentSpanContext?.spanId).toBe(process!.spanContext().spanId);
    expect(traceHeadersOf(out.headers!).traceparent?.split('-')[1]).toBe(traceId);
  });

  it('withTraceHeaders replaces traceparent and tracestate and keeps the rest', () => {
    const span = startSendSpan('t', parent);
    expect(withTraceHeaders({ a: '1', traceparent: 'old', tracestate: 'old' }, span)).toEqual({ a: '1', traceparent: span.traceparent });
    span.end();
  });
});
