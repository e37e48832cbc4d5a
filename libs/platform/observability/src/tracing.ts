/**
 * Traces (OpenTelemetry), set up in one place for every service (`startTracing`, called by the runtime that
 * admission's main and the bootstrap share).
 *
 * On only when `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set: spans are then
 * batched and exported over OTLP/HTTP (JSON). Otherwise no provider or exporter exists, no span is created, and
 * `startSpan` only checks and passes on the caller's W3C `traceparent`, so traces started elsewhere still continue
 * through the messages this service writes.
 *
 * Contexts are passed explicitly (a `traceparent` string, or a `Traced` handle), never through an ambient context
 * manager: the few spans this system makes are started where the code already holds the message or request, and
 * the admission hot path pays no AsyncLocalStorage cost.
 */
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, defaultTextMapGetter, trace, type Attributes, type Link, type Span, type SpanContext, type Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler, TracerProvider, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';

export { SpanKind, type Attributes };

/** The tracing settings of a process, read from the standard OTEL_* variables (`tracingSettingsFromEnv`). */
export interface TracingSettings {
  /** Where spans go; undefined: tracing is off. */
  readonly endpoint: string | undefined;
  readonly serviceName: string;
  /** Share of new traces (no sampled parent) recorded, 0..1; a parent's decision is always followed. */
  readonly ratio: number;
  /** How long ended spans wait before they are exported in one batch. */
  readonly exportDelayMs: number;
}

export const tracingLimits = {
  /** Ended spans waiting for export; beyond it new spans are dropped (never blocking the service). */
  queueSpansMax: 4_096,
  /** Spans per OTLP export request. */
  exportBatchSpansMax: 512,
  /** Links one span carries (a batch span links at most this many messages). */
  linksPerSpanMax: 128,
} as const;

/** The W3C header value: version 00, 32 hex trace id (not all zero), 16 hex span id (not all zero), 2 hex flags. */
const traceparentPattern = /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;
const zeroTraceId = '0'.repeat(32);
const zeroSpanId = '0'.repeat(16);

export function isTraceparent(value: string | undefined): value is string {
  return (
    value !== undefined &&
    value.length === 55 &&
    traceparentPattern.test(value) &&
    !value.startsWith(zeroTraceId, 3) &&
    !value.startsWith(zeroSpanId, 36)
  );
}

/** Reads OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT, OTEL_SERVICE_NAME, OTEL_TRACES_SAMPLER_ARG and OTEL_BSP_SCHEDULE_DELAY. */
export function tracingSettingsFromEnv(service: string, env: NodeJS.ProcessEnv = process.env): TracingSettings {
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT || undefined;
  const disabled = env.OTEL_SDK_DISABLED === 'true' || env.OTEL_TRACES_EXPORTER === 'none';
  const ratio = env.OTEL_TRACES_SAMPLER_ARG === undefined || env.OTEL_TRACES_SAMPLER_ARG === '' ? 1 : Number(env.OTEL_TRACES_SAMPLER_ARG);
  if (!Number.isFinite(ratio) || ratio < 0 || ratio > 1) throw new Error(`OTEL_TRACES_SAMPLER_ARG: expected a ratio between 0 and 1, got "${env.OTEL_TRACES_SAMPLER_ARG}"`);
  const delay = env.OTEL_BSP_SCHEDULE_DELAY === undefined || env.OTEL_BSP_SCHEDULE_DELAY === '' ? 5_000 : Number(env.OTEL_BSP_SCHEDULE_DELAY);
  if (!Number.isSafeInteger(delay) || delay < 1 || delay > 60_000) throw new Error(`OTEL_BSP_SCHEDULE_DELAY: expected milliseconds between 1 and 60000, got "${env.OTEL_BSP_SCHEDULE_DELAY}"`);
  if (endpoint !== undefined && !disabled) {
    try {
      new URL(endpoint);
    } catch {
      throw new Error(`OTEL_EXPORTER_OTLP_ENDPOINT: expected a URL, got "${endpoint}"`);
    }
  }
  return { endpoint: disabled ? undefined : endpoint, serviceName: env.OTEL_SERVICE_NAME || service, ratio, exportDelayMs: delay };
}

let provider: TracerProvider | undefined;
let tracer: Tracer | undefined;
const w3c = new W3CTraceContextPropagator();

/** True when spans are recorded (a provider was started). */
export function tracingEnabled(): boolean {
  return tracer !== undefined;
}

export interface Tracing {
  readonly enabled: boolean;
  /** Exports every ended span now. */
  flush(): Promise<void>;
  /** Exports what is left and stops recording. */
  shutdown(): Promise<void>;
}

const off: Tracing = { enabled: false, flush: () => Promise.resolve(), shutdown: () => Promise.resolve() };

/**
 * Starts tracing for this process when `settings.endpoint` is set (or a `processor` is given: tests collect spans
 * in memory), once; a second call returns the first one's handle. The exporter is loaded only when it is needed.
 */
export async function startTracing(settings: TracingSettings, options: { processor?: SpanProcessor } = {}): Promise<Tracing> {
  if (provider !== undefined) return handle(provider);
  let processor = options.processor;
  if (processor === undefined) {
    if (settings.endpoint === undefined) return off;
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
    // The exporter reads OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT, _HEADERS and _TIMEOUT itself (and appends /v1/traces).
    const exporter: SpanExporter = new OTLPTraceExporter();
    processor = new BatchSpanProcessor({
      exporter,
      maxQueueSize: tracingLimits.queueSpansMax,
      maxExportBatchSize: tracingLimits.exportBatchSpansMax,
      scheduledDelayMillis: settings.exportDelayMs,
    });
  }
  provider = new TracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: settings.serviceName }),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(settings.ratio) }),
    spanProcessors: [processor],
  });
  tracer = provider.getTracer('access');
  return handle(provider);
}

/**
 * Starts tracing for service `name` from the OTEL_* environment (what every service's runtime does at boot). A bad
 * value ends the process (exit 1) naming the variable, as every other configuration does.
 */
export async function startTracingFromEnv(name: string, logger: { info(extra: object, message: string): void }, env: NodeJS.ProcessEnv = process.env): Promise<Tracing> {
  let settings: TracingSettings;
  try {
    settings = tracingSettingsFromEnv(name, env);
  } catch (error) {
    process.stderr.write(`Invalid tracing configuration:\n  ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
  const tracing = await startTracing(settings);
  if (tracing.enabled) logger.info({ endpoint: settings.endpoint, serviceName: settings.serviceName, ratio: settings.ratio }, 'tracing: exporting spans over OTLP/HTTP');
  return tracing;
}

function handle(p: TracerProvider): Tracing {
  return {
    enabled: true,
    flush: () => p.forceFlush(),
    shutdown: async () => {
      await p.shutdown();
      if (provider === p) {
        provider = undefined;
        tracer = undefined;
      }
    },
  };
}

/** The W3C trace context of a span or of the caller: what is written into message headers. */
export interface TraceHeaders {
  traceparent?: string;
  tracestate?: string;
}

/** A span in progress, or (tracing off) the caller's context passed through. */
export interface Traced {
  /** This span's `traceparent` (tracing off: the parent's, when valid), for the messages and rows it causes. */
  readonly traceparent: string | undefined;
  /** Headers to propagate: `traceparent` and, when there is one, `tracestate`. */
  headers(): TraceHeaders;
  setAttributes(attributes: Attributes): void;
  /** Ends the span; with an error, its status is ERROR and the error is recorded. */
  end(error?: unknown): void;
}

export interface SpanOptions {
  readonly kind: SpanKind;
  readonly attributes?: Attributes;
  /** Other contexts this span relates to (a batch's messages): their `traceparent`s; invalid ones are dropped. */
  readonly links?: readonly (string | undefined)[];
}

/**
 * Starts span `name` as a child of `parent` (a W3C traceparent, or headers with traceparent and tracestate; a new
 * trace when absent or invalid). Tracing off: nothing is created; the handle carries the valid parent on.
 */
export function startSpan(name: string, parent: string | TraceHeaders | undefined, options: SpanOptions): Traced {
  if (tracer === undefined) return typeof parent === 'string' ? (isTraceparent(parent) ? new PassThrough(parent, undefined) : nothing) : passThrough(parent);
  const parentHeaders = typeof parent === 'string' ? { traceparent: parent } : parent;
  const context = parentHeaders?.traceparent === undefined ? ROOT_CONTEXT : w3c.extract(ROOT_CONTEXT, parentHeaders, defaultTextMapGetter);
  const links = options.links === undefined ? undefined : linksOf(options.links);
  return recorded(tracer.startSpan(name, { kind: options.kind, attributes: options.attributes, links }, context));
}

/**
 * Runs `run` inside one span per distinct parent (a batched write that serves messages of several traces shows in
 * each of them), ending them with its outcome. Tracing off: just runs it.
 */
export async function withSpans<T>(name: string, parents: readonly (string | undefined)[], options: SpanOptions, run: () => Promise<T>): Promise<T> {
  if (tracer === undefined) return run();
  const spans = [...new Set(parents.filter(isTraceparent))].map((p) => startSpan(name, p, options));
  if (spans.length === 0) spans.push(startSpan(name, undefined, options));
  try {
    const result = await run();
    for (const s of spans) s.end();
    return result;
  } catch (error) {
    for (const s of spans) s.end(error);
    throw error;
  }
}

function linksOf(traceparents: readonly (string | undefined)[]): Link[] {
  const links: Link[] = [];
  for (const tp of traceparents) {
    if (links.length >= tracingLimits.linksPerSpanMax) break;
    if (!isTraceparent(tp)) continue;
    const context = trace.getSpanContext(w3c.extract(ROOT_CONTEXT, { traceparent: tp }, defaultTextMapGetter));
    if (context !== undefined) links.push({ context });
  }
  return links;
}

/** Tracing off: the caller's context, when valid, and nothing else (a class: no closures per call on the hot path). */
class PassThrough implements Traced {
  constructor(
    readonly traceparent: string | undefined,
    private readonly tracestate: string | undefined,
  ) {}

  headers(): TraceHeaders {
    if (this.traceparent === undefined) return {};
    return this.tracestate === undefined ? { traceparent: this.traceparent } : { traceparent: this.traceparent, tracestate: this.tracestate };
  }

  setAttributes(): void {}

  end(): void {}
}

const nothing = new PassThrough(undefined, undefined);

function passThrough(parent: TraceHeaders | undefined): Traced {
  if (parent === undefined || !isTraceparent(parent.traceparent)) return nothing;
  return new PassThrough(parent.traceparent, parent.tracestate);
}

function recorded(span: Span): Traced {
  const context: SpanContext = span.spanContext();
  const traceparent = `00-${context.traceId}-${context.spanId}-${(context.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
  return {
    traceparent,
    headers: () => {
      const tracestate = context.traceState?.serialize();
      return tracestate ? { traceparent, tracestate } : { traceparent };
    },
    setAttributes: (attributes) => span.setAttributes(attributes),
    end: (error) => {
      if (error !== undefined) {
        span.recordException(error instanceof Error ? error : String(error));
        span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
      }
      span.end();
    },
  };
}
