/**
 * One trace across the services: admission, the credit ledger and usage-ingest run as real processes on the local
 * stack (topics, schema and ClickHouse database of this run's own), exporting their spans over OTLP/HTTP to a
 * receiver in this test, exactly as they would to a collector (OTEL_EXPORTER_OTLP_ENDPOINT). A caller sends a
 * request to admission and then its completion, both in its own trace (W3C `traceparent`); the test finds that
 * trace's spans in every service and checks each hop's parent: the decision's HTTP span, its Kafka send, the
 * ledger's processing of it (context taken from the message headers), the ledger events and balance it published
 * from its outbox, the settlement caused by the completion, and usage-ingest's processing and ClickHouse inserts.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireStack, testName } from '@access/testing';
import { startOtlpReceiver, startSystem, type OtlpReceiver, type ReceivedSpan, type TestSystem } from '@access/testing-system';

const SERVER = 2;
const CLIENT = 3;
const PRODUCER = 4;
const CONSUMER = 5;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('traces across admission, the ledger and usage-ingest', () => {
  let receiver: OtlpReceiver;
  let system: TestSystem;
  const accountId = testName('acct-trace');
  let n = 0;

  const call = async (service: 'admission' | 'credit-ledger', method: string, path: string, body: unknown, headers: Record<string, string> = {}) => {
    const r = await fetch(`${system.urls[service]}${path}`, {
      method,
      headers: { authorization: `Bearer ${system.token}`, 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
    return { status: r.status, body: (await r.json()) as Record<string, unknown> };
  };
  const admissionRequest = () => ({
    requestId: `${accountId}-req-${++n}`,
    accountId,
    userId: 'u-1',
    model: 'codex-1',
    endpoint: 'code.complete',
    estimate: { meters: { input_tokens: 10_000, output_tokens: 10_000 } },
  });
  const completion = (admissionId: string, requestId: string, meters: Record<string, number>, status: 'succeeded' | 'cancelled') => ({
    admissionId, requestId, accountId, userId: 'u-1', model: 'codex-1', endpoint: 'code.complete', status,
    meters, dimensions: {}, gpuSeconds: 0, durationMs: 10, startedAt: new Date().toISOString(), endedAt: new Date().toISOString(),
  });

  async function eventually<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`${what} not within ${timeoutMs} ms`);
      await sleep(250);
    }
  }

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    system = await startSystem(await requireStack(['kafka', 'postgres', 'clickhouse']), ['admission', 'credit-ledger', 'usage-ingest'], {
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '200' },
    });
    expect((await call('credit-ledger', 'PUT', `/v1/accounts/${accountId}`, { plan: 'payg' })).status).toBeLessThan(300);
    expect((await call('credit-ledger', 'POST', `/v1/accounts/${accountId}/grants`, { grantId: 'g-1', credits: 1_000, source: 'purchase' })).status).toBe(201);
    // Admission learns the balance from the ledger's balances topic; until then the account has no credits (402).
    await eventually('admission to see the grant', async () => {
      const request = admissionRequest();
      const answer = await call('admission', 'POST', '/v1/admissions', request);
      if (answer.body.decision !== 'admitted') return undefined;
      await call('admission', 'POST', `/v1/admissions/${String(answer.body.admissionId)}/complete`, completion(String(answer.body.admissionId), request.requestId, {}, 'cancelled'));
      return answer;
    });
  }, 300_000);

  afterAll(async () => {
    await system?.close();
    await receiver?.close();
  });

  it('follows a request and its completion from admission through the ledger to the ClickHouse inserts, in one trace', async () => {
    const { topics } = system;
    const traceId = randomBytes(16).toString('hex');
    const callerSpanId = randomBytes(8).toString('hex');
    const traceparent = `00-${traceId}-${callerSpanId}-01`;
    const inTrace = () => receiver.spans.filter((s) => s.traceId === traceId);
    const find = (what: string, match: (s: ReceivedSpan) => boolean) => eventually(what, () => inTrace().find(match));
    const childOf = (parent: ReceivedSpan) => (s: ReceivedSpan) => s.parentSpanId === parent.spanId;

    // The decision.
    const request = admissionRequest();
    const admitted = await call('admission', 'POST', '/v1/admissions', request, { traceparent });
    expect(admitted.body).toMatchObject({ decision: 'admitted' });
    const admitSpan = await find('admission HTTP span', (s) => s.service === 'admission' && s.kind === SERVER && s.name === 'POST /v1/admissions');
    expect(admitSpan.parentSpanId).toBe(callerSpanId);
    expect(admitSpan.attributes).toMatchObject({ 'http.request.method': 'POST', 'http.route': '/v1/admissions', 'http.response.status_code': 200 });
    const decisionSend = await find('decision send', (s) => s.kind === PRODUCER && s.name === `send ${topics.admissions}` && childOf(admitSpan)(s));
    expect(decisionSend.attributes).toMatchObject({ 'messaging.system': 'kafka', 'messaging.destination.name': topics.admissions, 'messaging.operation.type': 'send' });

    // The ledger takes the decision's context from the message headers, and its reservation carries it on.
    const ledgerDecision = await find('ledger processing the decision', (s) => s.service === 'credit-ledger' && s.kind === CONSUMER && childOf(decisionSend)(s));
    expect(ledgerDecision.name).toBe(`process ${topics.admissions}`);
    expect(ledgerDecision.attributes).toMatchObject({
      'messaging.system': 'kafka',
      'messaging.destination.name': topics.admissions,
      'messaging.operation.type': 'process',
      'messaging.destination.partition.id': expect.any(String),
      'messaging.kafka.offset': expect.any(Number),
      'messaging.consumer.group.name': system.env.LEDGER_GROUP_ID,
    });
    await find('the reservation published', (s) => s.service === 'credit-ledger' && s.kind === PRODUCER && s.name === `send ${topics.ledger}` && childOf(ledgerDecision)(s));

    // The completion, in the same caller trace: the ledger settles it and publishes the settlement and the balance.
    const completed = await call('admission', 'POST', `/v1/admissions/${String(admitted.body.admissionId)}/complete`, completion(String(admitted.body.admissionId), request.requestId, { input_tokens: 10_000, output_tokens: 5_000 }, 'succeeded'), { traceparent });
    expect(completed).toMatchObject({ status: 202 });
    const completeSpan = await find('completion HTTP span', (s) => s.service === 'admission' && s.kind === SERVER && s.name === 'POST /v1/admissions/:admissionId/complete');
    expect(completeSpan.parentSpanId).toBe(callerSpanId);
    const completionSend = await find('completion send', (s) => s.kind === PRODUCER && s.name === `send ${topics.usage}` && childOf(completeSpan)(s));
    const ledgerCompletion = await find('ledger processing the completion', (s) => s.service === 'credit-ledger' && s.kind === CONSUMER && childOf(completionSend)(s));
    await find('the settlement published', (s) => s.service === 'credit-ledger' && s.name === `send ${topics.ledger}` && childOf(ledgerCompletion)(s));
    const ledgerProcess = new Set([ledgerDecision.spanId, ledgerCompletion.spanId]);
    await find('a balance published', (s) => s.service === 'credit-ledger' && s.kind === PRODUCER && s.name === `send ${topics.balances}` && ledgerProcess.has(s.parentSpanId));

    // usage-ingest: each message processed in the trace of its producer, and each row's INSERT under that.
    const ledgerSends = () => new Set(inTrace().filter((s) => s.service === 'credit-ledger' && s.name === `send ${topics.ledger}`).map((s) => s.spanId));
    const ingested = [
      { topic: topics.admissions, table: 'admission_decisions', from: (s: ReceivedSpan) => s.parentSpanId === decisionSend.spanId },
      { topic: topics.usage, table: 'request_usage', from: (s: ReceivedSpan) => s.parentSpanId === completionSend.spanId },
      { topic: topics.ledger, table: 'ledger_entries', from: (s: ReceivedSpan) => ledgerSends().has(s.parentSpanId) },
    ];
    for (const { topic, table, from } of ingested) {
      const process = await find(`ingest processing ${topic}`, (s) => s.service === 'usage-ingest' && s.kind === CONSUMER && s.name === `process ${topic}` && from(s));
      expect(process.attributes).toMatchObject({ 'messaging.system': 'kafka', 'messaging.operation.type': 'process', 'messaging.destination.name': topic });
      const insert = await find(`INSERT ${table}`, (s) => s.service === 'usage-ingest' && s.kind === CLIENT && s.name === `INSERT ${table}` && childOf(process)(s));
      expect(insert.attributes).toMatchObject({ 'db.system.name': 'clickhouse', 'db.collection.name': table, 'db.operation.name': 'INSERT' });
    }

    // One trace id across the three services; nothing in it failed; every export was OTLP/JSON.
    expect(new Set(inTrace().map((s) => s.service))).toEqual(new Set(['admission', 'credit-ledger', 'usage-ingest']));
    expect(inTrace().filter((s) => s.statusCode === 2)).toEqual([]);
    expect(receiver.refused).toEqual([]);
  }, 180_000);
});
