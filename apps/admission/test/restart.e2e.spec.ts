/**
 * Restart recovery, end to end: admission as a child process on topics of its own decides some
 * requests, is killed with SIGKILL, and a new process rebuilds its state from Kafka: running requests
 * still hold their concurrency slots and credit holds, allowance windows still count what was used,
 * completed requests stay completed, and a repeated requestId gets its first decision.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireStack } from '@access/testing';
import { completion, createRun, post, randomPort, startAdmission, videoRequest, waitReady, type AdmissionRun, type Service } from './harness';

describe('admission restart recovery', () => {
  let run: AdmissionRun;
  const services: Service[] = [];

  beforeAll(async () => {
    run = await createRun(await requireStack(['kafka', 'postgres']));
  });

  afterAll(async () => {
    for (const s of services) await s.kill();
    await run?.close();
  });

  it('forgets nobody: slots, holds, allowance and idempotency survive a SIGKILL', async () => {
    await run.balance('acct-r', 'payg', 1_000, 1);
    await run.balance('acct-f', 'free', 0, 1);
    const first = startAdmission(run, randomPort());
    services.push(first);
    await waitReady(first);
    const call = (s: Service, body: unknown) => post(s.port, '/v1/admissions', run.token, body);

    // payg, 1000 credits: three 100-credit videos held (5 slots per user), one of them completes.
    const paid = [videoRequest('acct-r', 10), videoRequest('acct-r', 10), videoRequest('acct-r', 10)];
    const answers = [];
    for (const r of paid) answers.push(await call(first, r));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    expect((await post(first.port, `/v1/admissions/${answers[0]!.body.admissionId}/complete`, run.token, completion(answers[0]!, paid[0]!, 8))).status).toBe(202);
    // free, no credits: a 50-credit video from the 100-credit 5h allowance holds the user's only slot.
    const freeVideo = videoRequest('acct-f', 5);
    const freeAnswer = await call(first, freeVideo);
    expect(freeAnswer.body).toMatchObject({ decision: 'admitted', fundedBy: [{ source: 'allowance', window: '5h', credits: 50 }] });
    await first.kill('SIGKILL');

    const second = startAdmission(run, randomPort());
    services.push(second);
    await waitReady(second);

    // The same requestId and body: the first decision, unchanged.
    const again = await call(second, paid[1]);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(answers[1]!.body);
    // Holds: 3 × 100 held (the completed one keeps counting until the ledger settles it): 700 available.
    const tooMuch = await call(second, videoRequest('acct-r', 71));
    expect(tooMuch.status).toBe(402);
    expect(tooMuch.body).toMatchObject({ reason: 'insufficient_credits', availableCredits: 700 });
    // Slots: two still running of five, so three more zero-cost requests fit and the next does not.
    for (let i = 0; i < 3; i++) expect((await call(second, videoRequest('acct-r', 0))).status).toBe(200);
    expect((await call(second, videoRequest('acct-r', 0))).body).toMatchObject({ reason: 'concurrency_limited' });
    // The free user's running video still holds the only slot.
    expect((await call(second, videoRequest('acct-f', 1))).body).toMatchObject({ reason: 'concurrency_limited' });
    // Completed through the new process (it knows the admission from the replay), the slot frees up...
    expect((await post(second.port, `/v1/admissions/${freeAnswer.body.admissionId}/complete`, run.token, completion(freeAnswer, freeVideo, 5))).status).toBe(202);
    // ...and the 5h allowance still counts the 50 used before the restart: 60 credits do not fit, 50 do.
    expect((await call(second, videoRequest('acct-f', 6))).body).toMatchObject({ reason: 'insufficient_credits', availableCredits: 0 });
    expect((await call(second, videoRequest('acct-f', 5))).body).toMatchObject({ decision: 'admitted', fundedBy: [{ source: 'allowance', window: '5h', credits: 50 }] });
  }, 120_000);
});
