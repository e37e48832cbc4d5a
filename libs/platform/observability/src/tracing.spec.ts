/**
 * Tracing: settings read from the OTEL_* variables (bad values named); with tracing off, spans are never created
 * and only a valid caller context is carried on; with it on (spans kept in memory), a span is a child of the
 * traceparent it is given, follows the parent's sampling decision, links, and `withSpans` opens one span per trace.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import { SpanKind, isTraceparent, startSpan, startTracing, tracingEnabled, tracingSettingsFromEnv, withSpans, type Tracing } from './tracing';

const parent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
const unsampled = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00';

describe('tracingSettingsFromEnv', () => {
  it.each<[string, NodeJS.ProcessEnv, object]>([
    ['nothing set: off, named after the service', {}, { endpoint: undefined, serviceName: 'svc', ratio: 1, exportDelayMs: 5_000 }],
    ['an endpoint: on', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }, { endpoint: 'http://collector:4318' }],
    ['the traces endpoint wins', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://b:4318/v1/traces' }, { endpoint: 'http://b:4318/v1/traces' }],
    ['OTEL_SDK_DISABLED turns it off', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_SDK_DISABLED: 'true' }, { endpoint: undefined }],
    ['OTEL_TRACES_EXPORTER=none turns it off', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_TRACES_EXPORTER: 'none' }, { endpoint: undefined }],
    ['service name, ratio and delay', { OTEL_SERVICE_NAME: 'ledger-eu', OTEL_TRACES_SAMPLER_ARG: '0.25', OTEL_BSP_SCHEDULE_DELAY: '200' }, { serviceName: 'ledger-eu', ratio: 0.25, exportDelayMs: 200 }],
  ])('given %s', (_name, env, expected) => {
    expect(tracingSettingsFromEnv('svc', env)).toMatchObject(expected);
  });

  it.each([
    ['OTEL_TRACES_SAMPLER_ARG', '1.5'],
    ['OTEL_TRACES_SAMPLER_ARG', 'half'],
    ['OTEL_BSP_SCHEDULE_DELAY', '0'],
    ['OTEL_BSP_SCHEDULE_DELAY', 'soon'],
    ['OTEL_EXPORTER_OTLP_ENDPOINT', 'not a url'],
  ])('names the bad variable %s=%s', (name, value) => {
    expect(() => tracingSettingsFromEnv('svc', { [name]: value })).toThrow(new RegExp(`^${name}: .*got "${value}"`));
  });
});

describe('isTraceparent', () => {
  it.each<[string | undefined, boolean]>([
    [parent, true],
    [unsampled, true],
    [undefined, false],
    ['', false],
    ['01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', false],
    ['00-00000000000000000000000000000000-b7ad6b7169203331-01', false],
    ['00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01', false],
    ['00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01', false],
    [`${parent}\tx`, false],
  ])('%s → %s', (value, expected) => {
    expect(isTraceparent(value)).toBe(expected);
  });
});

describe('tracing off', () => {
  it('creates no span and carries a valid caller context on unchanged (with its tracestate)', async () => {
    expect(tracingEnabled()).toBe(false);
    expect(await startTracing(tracingSettingsFromEnv('svc', {}))).toMatchObject({ enabled: false });
    expect(tracingEnabled()).toBe(false);
    const span = startSpan('x', { traceparent: parent, tracestate: 'k=v' }, { kind: SpanKind.SERVER });
    expect(span.traceparent).toBe(parent);
    expect(span.headers()).toEqual({ traceparent: parent, tracestate: 'k=v' });
    span.end(new Error('ignored'));
  });

  it.each([undefined, 'garbage', `${parent}\nx`])('drops an invalid context (%s)', (value) => {
    const span = startSpan('x', value, { kind: SpanKind.SERVER });
    expect(span.traceparent).toBeUndefined();
    expect(span.headers()).toEqual({});
  });

  it('withSpans just runs the work', async () => {
    await expect(withSpans('w', [parent], { kind: SpanKind.CLIENT }, async () => 7)).resolves.toBe(7);
  });
});

describe('tracing on (spans in memory)', () => {
  const exporter = new InMemorySpanExporter();
  let tracing: Tracing;
  const ended = () => exporter.getFinishedSpans();
  const hex = (traceparent: string | undefined) => traceparent?.split('-') ?? [];

  afterAll(async () => {
    await tracing?.shutdown();
    expect(tracingEnabled()).toBe(false);
  });

  it('starts once, with the processor given', async () => {
    tracing = await startTracing(tracingSettingsFromEnv('svc', {}), { processor: new SimpleSpanProcessor({ exporter }) });
    expect(tracing.enabled).toBe(true);
    expect(tracingEnabled()).toBe(true);
    expect((await startTracing(tracingSettingsFromEnv('other', {}))).enabled).toBe(true);
  });

  it('a span is a child of the traceparent it is given, and its own context goes on', () => {
    exporter.reset();
    const span = startSpan('send t', parent, { kind: SpanKind.PRODUCER, attributes: { a: 1 } });
    const [, traceId, spanId, flags] = hex(span.traceparent);
    expect(traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(spanId).not.toBe('b7ad6b7169203331');
    expect(flags).toBe('01');
    expect(span.headers()).toEqual({ traceparent: span.traceparent });
    span.end();
    const [recorded] = ended();
    expect(recorded).toMatchObject({ name: 'send t', kind: SpanKind.PRODUCER, attributes: { a: 1 } });
    expect(recorded!.spanContext().traceId).toBe(traceId);
    expect(recorded!.parentSpanContext?.spanId).toBe('b7ad6b7169203331');
    expect(recorded!.resource.attributes['service.name']).toBe('svc');
  });

  it('keeps the tracestate, starts a new trace without a parent, and records errors', () => {
    exporter.reset();
    const withState = startSpan('a', { traceparent: parent, tracestate: 'vendor=x' }, { kind: SpanKind.SERVER });
    expect(withState.headers().tracestate).toBe('vendor=x');
    const root = startSpan('b', undefined, { kind: SpanKind.SERVER });
    expect(hex(root.traceparent)[1]).not.toBe('0af7651916cd43dd8448eb211c80319c');
    root.end(new Error('boom'));
    withState.end();
    const failed = ended().find((s) => s.name === 'b')!;
    expect(failed.status).toMatchObject({ code: 2, message: 'boom' });
    expect(failed.parentSpanContext).toBeUndefined();
  });

  it('follows an unsampled parent: nothing recorded, the decision carried on', () => {
    exporter.reset();
    const span = startSpan('c', unsampled, { kind: SpanKind.CONSUMER });
    expect(hex(span.traceparent)[3]).toBe('00');
    span.end();
    expect(ended()).toEqual([]);
  });

  it('links the valid traceparents it is given', () => {
    exporter.reset();
    startSpan('batch', undefined, { kind: SpanKind.CONSUMER, links: [parent, 'garbage', undefined] }).end();
    expect(ended()[0]!.links.map((l) => l.context.spanId)).toEqual(['b7ad6b7169203331']);
  });

  it('withSpans opens one span per distinct trace and ends them with the outcome', async () => {
    exporter.reset();
    const other = '00-11111111111111111111111111111111-2222222222222222-01';
    await withSpans('INSERT t', [parent, parent, other, undefined], { kind: SpanKind.CLIENT }, async () => undefined);
    expect(ended().map((s) => s.spanContext().traceId).sort()).toEqual(['0af7651916cd43dd8448eb211c80319c', '11111111111111111111111111111111']);
    exporter.reset();
    await expect(withSpans('INSERT t', [parent], { kind: SpanKind.CLIENT }, () => Promise.reject(new Error('down')))).rejects.toThrow('down');
    expect(ended().map((s) => s.status.code)).toEqual([2]);
  });
});
