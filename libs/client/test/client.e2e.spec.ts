/**
 * The client against the live services: admission and the credit ledger as real processes on the local stack
 * (topics, schema and token of this run's own). An admitted request is run and settled in the ledger for the
 * job's actual meters; a job that throws is completed as cancelled and charged nothing; a retried admission
 * returns the first decision; rejections are values and bad input is a typed error naming the field.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireStack, testName } from '@access/testing';
import { startSystem, type TestSystem } from '@access/testing-system';
import { AccessApiError, AccessClient, type AdmissionRequest, type LedgerEvent } from '../src';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('AccessClient against the running services', () => {
  let system: TestSystem;
  let client: AccessClient;
  const accountId = testName('acct');
  let n = 0;
  const codeRequest = (inputTokens: number, outputTokens: number): AdmissionRequest => ({
    requestId: `${accountId}-req-${++n}`,
    accountId,
    userId: 'u-1',
    model: 'codex-1',
    endpoint: 'code.complete',
    estimate: { meters: { input_tokens: inputTokens, output_tokens: outputTokens } },
  });

  async function ledger(method: string, path: string, body: unknown): Promise<void> {
    const r = await fetch(`${system.urls['credit-ledger']}${path}`, { method, headers: { authorization: `Bearer ${system.token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect([200, 201]).toContain(r.status);
  }

  async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`${what} not within ${timeoutMs} ms`);
      await sleep(200);
    }
  }

  /** The ledger's resolution of an admission: `reservation_settled`, or `reservation_voided` for a completion with nothing to charge. */
  async function resolutionOf(admissionId: string): Promise<LedgerEvent> {
    const seen: string[] = [];
    return eventually(`resolution of ${admissionId}`, async () => {
      seen.length = 0;
      for await (const event of client.allEvents(accountId)) {
        seen.push(`${event.type} ${JSON.stringify(event.data)}`);
        if (/reservation_(settled|voided)$/.test(event.type) && event.data.admissionId === admissionId) return event;
      }
      return undefined;
    }).catch((error: unknown) => Promise.reject(new Error(`${String(error)}; events:\n${seen.join('\n')}`)));
  }

  beforeAll(async () => {
    system = await startSystem(await requireStack(['kafka', 'postgres']), ['admission', 'credit-ledger']);
    client = new AccessClient({ admissionUrl: system.urls.admission!, ledgerUrl: system.urls['credit-ledger']!, token: system.token });
    await ledger('PUT', `/v1/accounts/${accountId}`, { plan: 'payg' });
    await ledger('POST', `/v1/accounts/${accountId}/grants`, { grantId: 'g-1', credits: 1_000, source: 'purchase' });
    // Admission learns the balance from the ledger's balances topic; until then the account has no credits (402).
    await eventually('admission to see the grant', async () => {
      const result = await client.admit(codeRequest(1_000, 1_000));
      if (result.decision === 'rejected') return undefined;
      await client.complete(result.admissionId, { ...usageOf(result.requestId), status: 'cancelled', meters: {} });
      return result;
    }, 60_000);
  }, 300_000);

  afterAll(async () => {
    await system?.close();
  });

  const usageOf = (requestId: string) => ({
    requestId, accountId, userId: 'u-1', model: 'codex-1', endpoint: 'code.complete', status: 'succeeded' as const,
    meters: {}, dimensions: {}, gpuSeconds: 0, durationMs: 0, startedAt: new Date().toISOString(), endedAt: new Date().toISOString(),
  });

  it('run: admitted, the job runs, and the ledger settles the job’s actual meters', async () => {
    // 10k input tokens at 0.2 per 1k and 10k output at 0.8 per 1k: 10 credits held; the job uses 5k output: 6 credits.
    const result = await client.run(codeRequest(10_000, 10_000), async ({ admission }) => {
      expect(admission.estimatedCredits).toBe(10);
      return { meters: { input_tokens: 10_000, output_tokens: 5_000 }, gpuSeconds: 1.5, value: 'done' };
    });
    expect(result).toMatchObject({ decision: 'admitted', value: 'done', completion: { status: 'accepted', duplicate: false } });
    if (result.decision !== 'admitted') return;
    expect(result.admission.fundedBy).toEqual([{ source: 'credits', credits: 10 }]);
    expect(result.admission.rateLimit.policies).toEqual([expect.objectContaining({ name: 'requests', quota: expect.any(Number) })]);
    const settled = await resolutionOf(result.admission.admissionId);
    // What was charged; how much of it was held first depends on whether the ledger saw the decision or the completion
    // first (they travel on different topics).
    expect(settled).toMatchObject({ type: 'ledger.reservation_settled', data: { actualCredits: 6 } });
  });

  it('run: a job that throws is completed as cancelled, its hold voided, and its error is rethrown', async () => {
    const request = codeRequest(10_000, 10_000);
    const boom = new Error('the model crashed');
    let admissionId = '';
    await expect(
      client.run(request, async ({ admission }) => {
        admissionId = admission.admissionId;
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(admissionId).toMatch(/^[0-9a-f-]{36}$/);
    // A cancelled completion with no meters charges nothing: the ledger voids the hold, or settles 0 when the
    // completion reached it before the decision.
    const resolution = await resolutionOf(admissionId);
    if (resolution.type === 'ledger.reservation_voided') expect(resolution.data).toMatchObject({ reason: 'cancelled', releasedCredits: 10 });
    else expect(resolution.data).toMatchObject({ actualCredits: 0 });
  });

  it('admit again with the same requestId returns the first decision; complete twice is answered as a duplicate', async () => {
    const request = codeRequest(2_000, 2_000);
    const first = await client.admit(request);
    const again = await client.admit(request);
    expect(first.decision).toBe('admitted');
    expect(again).toMatchObject({ decision: 'admitted', admissionId: (first as { admissionId: string }).admissionId });
    if (first.decision !== 'admitted') return;
    const usage = { ...usageOf(first.requestId), meters: { input_tokens: 2_000, output_tokens: 2_000 } };
    expect(await client.complete(first.admissionId, usage)).toMatchObject({ duplicate: false });
    expect(await client.complete(first.admissionId, usage)).toMatchObject({ duplicate: true });
  });

  it('insufficient credits is a rejected value (402) with what the account has', async () => {
    const result = await client.admit(codeRequest(0, 100_000_000));
    expect(result).toMatchObject({ decision: 'rejected', status: 402, reason: 'insufficient_credits', code: 'ADMISSION.INSUFFICIENT_CREDITS' });
    expect(typeof (result as { availableCredits?: number }).availableCredits).toBe('number');
  });

  it('bad input is an AccessApiError naming the field; an unknown token is 401; a ledger 404 is typed too', async () => {
    const bad = { ...codeRequest(1, 1), estimate: { meters: { input_tokens: -5 } } };
    const error = await client.admit(bad).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AccessApiError);
    expect(error).toMatchObject({ status: 400, code: 'ADMISSION.INVALID_REQUEST', errors: [expect.objectContaining({ path: 'estimate.meters.input_tokens' })] });
    const stranger = new AccessClient({ admissionUrl: system.urls.admission!, token: 'acc_0000000000000000000000000000000000000000000' });
    await expect(stranger.admit(codeRequest(1, 1))).rejects.toMatchObject({ status: 401, code: 'AUTH.UNKNOWN_TOKEN' });
    await expect(client.balance(testName('nobody'))).rejects.toMatchObject({ status: 404, code: 'LEDGER.ACCOUNT_NOT_FOUND' });
  });

  it('the README\'s runnable example (examples/quickstart.ts) runs to a settlement', async () => {
    const { execFile } = await import('node:child_process');
    const { join } = await import('node:path');
    const root = join(__dirname, '..', '..', '..');
    const out = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, [join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(root, 'libs', 'client', 'examples', 'quickstart.ts')], {
        cwd: root,
        encoding: 'utf8',
        env: { ...process.env, ACCESS_TOKEN: system.token, ADMISSION_URL: system.urls.admission!, LEDGER_URL: system.urls['credit-ledger']! },
        timeout: 60_000,
      }, (error, stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stdout}\n${stderr}`)) : resolve(stdout))),
    );
    expect(out).toMatch(/^opened quickstart-/);
    // 10k input tokens (2 credits) and 4k output tokens (3.2) cost 5.2, rounded up.
    expect(out).toMatch(/settled: .*"actualCredits":6/);
  }, 90_000);

  it('balance reflects the settlements', async () => {
    const balance = await client.balance(accountId);
    expect(balance).toMatchObject({ accountId, plan: 'payg' });
    expect(balance.balanceCredits).toBeLessThan(1_000);
    expect(balance.availableCredits).toBe(balance.balanceCredits - balance.heldCredits);
  });
});
