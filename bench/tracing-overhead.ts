/**
 * What tracing costs admission's request path, per request, in-process: the server span and the decision's send
 * span around encoding and sending one decision (the producer a resolved promise), against the same encoding and send
 * without the tracing code. Three cases: tracing off (no provider: the default when OTEL_EXPORTER_OTLP_ENDPOINT is
 * unset), and on with every span recorded (export left out: a no-op processor).
 *
 *   node_modules/.bin/node --import tsx bench/tracing-overhead.ts
 */
import { encodeEvent, tracedSend, type OutgoingMessage } from '@access/platform-kafka';
import { inServerSpan } from '@access/platform-http';
import { startTracing, tracingSettingsFromEnv } from '@access/platform-observability';
import { NoopSpanProcessor } from '@opentelemetry/sdk-trace';

const tp = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
const headers = { traceparent: tp, authorization: 'Bearer x' };
// A decision's envelope; its data is not looked at on this path.
const event = { specversion: '1.0', id: '0190', source: 's', type: 'io.access.admission.decided.v1', time: '2026-01-01T00:00:00Z', subject: 'acct-1', datacontenttype: 'application/json', data: { accountId: 'acct-1' } } as never;
const send = (_m: OutgoingMessage) => Promise.resolve();

async function once(traced: boolean): Promise<void> {
  if (!traced) {
    await send(encodeEvent(event, 'topic', tp));
    return;
  }
  await inServerSpan('POST', '/v1/admissions', headers, (span) => tracedSend(encodeEvent(event, 'topic'), span.traceparent, send), () => 200);
}

async function measure(label: string, traced: boolean, n = 200_000): Promise<void> {
  for (let i = 0; i < 20_000; i++) await once(traced);
  const runs: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) await once(traced);
    runs.push(Number(process.hrtime.bigint() - t0) / n);
  }
  runs.sort((a, b) => a - b);
  console.log(`${label}: median ${runs[2]!.toFixed(0)} ns/request (runs ${runs.map((x) => x.toFixed(0)).join(', ')})`);
}

async function main() {
  await measure('baseline (no span code, header as before)', false);
  await measure('tracing off (no provider)', true);
  await startTracing(tracingSettingsFromEnv('bench', {}), { processor: new NoopSpanProcessor() });
  await measure('tracing on, spans recorded, no export', true);
}
void main();
