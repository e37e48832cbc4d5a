/**
 * Admission with the credit ledger, end to end, both as child processes on topics of their own: grant
 * 1,000 credits, admit until 402, complete the requests with actual costs that differ from the
 * estimates, and the ledger's balance equals the reference; admission is SIGKILLed and restarted in
 * the middle and forgets no running request or hold.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenStore } from '@access/platform-auth';
import { sleep } from '@access/platform-kafka';
import { requireStack, testName } from '@access/testing';
import { completion, createRun, post, randomPort, startAdmission, startService, videoRequest, waitReady, type AdmissionRun, type Answer, type Service } from './harness';

const ACCOUNT = 'acct-e2e';

describe('admission with the credit ledger', () => {
  let run: AdmissionRun;
  let token: string;
  let ledger: Service;
  const services: Service[] = [];

  const ledgerCall = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(`http://127.0.0.1:${ledger.port}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: r.status, body: (await r.json()) as Record<string, unknown> };
  };
  const balance = async () => (await ledgerCall('GET', `/v1/accounts/${ACCOUNT}/balance`)).body;
  async function until<T>(what: string, probe: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 30_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await probe();
      if (ok(v)) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(v)}`);
      await sleep(200);
    }
  }

  beforeAll(async () => {
    const stack = await requireStack(['kafka', 'postgres']);
    run = await createRun(stack);
    ({ token } = await new TokenStore(run.db).create(testName('e2e'), ['admission:decide', 'ledger:read', 'ledger:write']));
    const ledgerPort = randomPort();
    ledger = startService('apps/credit-ledger/src/main.ts', {
      KAFKA_BROKERS: stack.kafkaBrokers.join(','),
      DATABASE_URL: stack.databaseUrl,
      LEDGER_PORT: String(ledgerPort),
      LEDGER_DB_SCHEMA: testName('ledger_e2e').toLowerCase(),
      LEDGER_GROUP_ID: testName('ledger-g'),
      LEDGER_TOPIC_ADMISSIONS: run.topics.admissions,
      LEDGER_TOPIC_USAGE: run.topics.usage,
      LEDGER_TOPIC_LEDGER: run.topics.ledger,
      LEDGER_TOPIC_BALANCES: run.topics.balances,
      LEDGER_TOPIC_DEADLETTER: run.topics.deadletter,
      LEDGER_SESSION_TIMEOUT_MS: '6000',
      TOKEN_REFRESH_MS: '500',
    }, ledgerPort);
    services.push(ledger);
    await waitReady(ledger, 90_000);
  }, 120_000);

  afterAll(async () => {
    for (const s of services) await s.kill();
    await run?.close();
  });

  it('grant 1,000, admit until 402 across a restart, settle actual costs: the ledger balance equals the reference', async () => {
    expect((await ledgerCall('PUT', `/v1/accounts/${ACCOUNT}`, { plan: 'payg' })).status).toBeLessThan(300);
    expect((await ledgerCall('POST', `/v1/accounts/${ACCOUNT}/grants`, { grantId: 'g-e2e-1', credits: 1_000, source: 'purchase' })).status).toBe(201);

    let admission = startAdmission(run, randomPort());
    services.push(admission);
    await waitReady(admission);
    const admit = (body: unknown) => post(admission.port, '/v1/admissions', token, body);
    // Until admission has the ledger's balance, an oversized probe says what it sees (a rejection changes nothing).
    const availableSeen = async () => ((await admit(videoRequest(ACCOUNT, 500))).body.availableCredits as number | undefined) ?? -1;
    await until('admission to see the grant', availableSeen, (v) => v === 1_000);

    // payg: 5 concurrent requests per user, so the 100-credit videos are spread over users.
    const admitted: { request: ReturnType<typeof videoRequest>; answer: Answer }[] = [];
    const admitOne = async () => {
      const request = videoRequest(ACCOUNT, 10, { userId: `u-${admitted.length % 3}` });
      const answer = await admit(request);
      if (answer.status === 200) admitted.push({ request, answer });
      return answer;
    };
    for (let i = 0; i < 4; i++) expect((await admitOne()).status).toBe(200);

    // Restart in the middle: four requests are running, their holds not necessarily settled anywhere yet.
    await admission.kill('SIGKILL');
    admission = startAdmission(run, randomPort());
    services.push(admission);
    await waitReady(admission);

    let last: Answer;
    for (;;) {
      last = await admitOne();
      if (last.status !== 200) break;
      expect(admitted.length).toBeLessThanOrEqual(10);
    }
    expect(last.status).toBe(402);
    expect(last.body).toMatchObject({ reason: 'insufficient_credits', estimatedCredits: 100, availableCredits: 0 });
    expect(admitted).toHaveLength(10);

    // Complete with actual costs that differ from the 100-credit estimates (some above: overshoot).
    const actualSeconds = [5, 8, 10, 12, 3, 0, 14, 9, 7, 11];
    for (const [i, { request, answer }] of admitted.entries()) {
      const status = actualSeconds[i] === 0 ? 'failed' : 'succeeded';
      const r = await post(admission.port, `/v1/admissions/${answer.body.admissionId}/complete`, token, completion(answer, request, actualSeconds[i] as number, status));
      expect(r.status).toBe(202);
    }
    const charged = actualSeconds.reduce((sum, s) => sum + s * 10, 0);
    const reference = 1_000 - charged;

    const settled = await until('the ledger to settle every reservation', balance, (b) => b.heldCredits === 0 && b.balanceCredits === reference, 60_000);
    expect(settled).toMatchObject({ balanceCredits: reference, heldCredits: 0, availableCredits: reference });
    // Admission converges on the ledger's figure once the settlements reach it (no hold forgotten or counted twice).
    await until('admission to see the settled balance', availableSeen, (v) => v === reference);
  }, 240_000);
});
