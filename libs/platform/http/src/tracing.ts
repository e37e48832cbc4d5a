/**
 * A SERVER span for one HTTP request, a child of the caller's W3C trace context (`traceparent`, `tracestate`), after
 * the HTTP semantic conventions: `http.request.method`, `http.route`, `http.response.status_code`; the status is
 * ERROR only for 5xx answers (a 4xx is the client's error, not the server's).
 */
import { ATTR_HTTP_REQUEST_METHOD, ATTR_HTTP_RESPONSE_STATUS_CODE, ATTR_HTTP_ROUTE } from '@opentelemetry/semantic-conventions';
import { SpanKind, startSpan, tracingEnabled, type Attributes, type TraceHeaders, type Traced } from '@access/platform-observability';

type Headers = Readonly<Record<string, string | string[] | undefined>>;

function header(headers: Headers, name: string): string | undefined {
  const value = headers[name];
  return typeof value === 'string' ? value : undefined;
}

/**
 * Runs `run` in a span named `<method> <route>`; `statusOf` reads the answer's status from its result. A throw is
 * answered by its `getStatus()` (Nest's HttpException) or 500.
 */
export function inServerSpan<T>(method: string, route: string, headers: Headers, run: (span: Traced) => Promise<T>, statusOf: (result: T) => number): Promise<T> {
  const parent = { traceparent: header(headers, 'traceparent'), tracestate: header(headers, 'tracestate') };
  // Tracing off (the admission hot path's usual case): no span, and no extra await around the request.
  if (!tracingEnabled()) return run(startSpan('', parent, { kind: SpanKind.SERVER }));
  return recordRequest(`${method} ${route}`, parent, { [ATTR_HTTP_REQUEST_METHOD]: method, [ATTR_HTTP_ROUTE]: route }, run, statusOf);
}

async function recordRequest<T>(name: string, parent: TraceHeaders, attributes: Attributes, run: (span: Traced) => Promise<T>, statusOf: (result: T) => number): Promise<T> {
  const span = startSpan(name, parent, { kind: SpanKind.SERVER, attributes });
  let result: T;
  try {
    result = await run(span);
  } catch (error) {
    const status = (error as { getStatus?: () => number } | null)?.getStatus?.() ?? 500;
    span.setAttributes({ [ATTR_HTTP_RESPONSE_STATUS_CODE]: status });
    span.end(status >= 500 ? error : undefined);
    throw error;
  }
  const status = statusOf(result);
  span.setAttributes({ [ATTR_HTTP_RESPONSE_STATUS_CODE]: status });
  span.end(status >= 500 ? new Error(`answered ${status}`) : undefined);
  return result;
}
