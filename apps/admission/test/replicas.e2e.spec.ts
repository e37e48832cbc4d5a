/**
 * Admission replicas, end to end: three admission processes on topics of their own form one service. Requests are
 * sent round-robin over all three; every limit and hold must come out exactly as one instance would enforce it (not
 * multiplied by three), idempotency must hold across replicas, and when the owner of an account is SIGKILLed another
 * replica must take its partition over and go on deciding, with the limits still exact.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireStack } from '@access/testing';
import { DECIDED_BY_HEADER } from '@access/admission-adapters';
import { TransactionalProducer, partitionForKey } from '@access/platform-kafka';
import { completion, createRun, post, randomPort, startAdmission, videoRequest, waitReady, type AdmissionRun, type Answer, type Service } from './harness';

describe('admission replicas', () => {
  let run: AdmissionRun;
  let replicas: Service[] = [];
  let turn = 0;
  const next = () => replicas[turn++ % replicas.length] as Service;
  const admit = (body: unknown, via: Service = next()) => post(via.port, '/v1/admissions', run.token, body);
  const complete = (answer: Answer, request: ReturnType<typeof videoRequest>, via: Service = next()) =>
    post(via.port, `/v1/admissions/${String(answer.body.admissionId)}/complete`, run.token, completion(answer, request, 0));

  /** Publishes the account's balance and waits until its owner decides with it (a zero-cost probe by its own user). */
  let probes = 0;
  const openAccount = async (accountId: string, plan: string, availableCredits: number) => {
    await run.balance(accountId, plan, availableCredits, 1);
    for (const deadline = Date.now() + 20_000; Date.now() < deadline; ) {
      const request = videoRequest(accountId, 0, { userId: `probe-${++probes}` });
      const answer = await admit(request);
      if (answer.status === 200) expect((await complete(answer, request)).status).toBe(202);
      if (answer.body.plan === plan) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`the owner of ${accountId} never saw its balance`);
  };

  beforeAll(async () => {
    run = await createRun(await requireStack(['kafka', 'postgres']));
    replicas = [0, 1, 2].map(() => startAdmission(run, randomPort()));
    await Promise.all(replicas.map((r) => waitReady(r)));
  }, 120_000);

  afterAll(async () => {
    for (const r of replicas) await r.kill();
    await run?.close();
  });

  it('enforces a user requests per minute exactly as one instance, whichever replica is asked', async () => {
    await openAccount('acct-rpm', 'free', 0);
    await openAccount('acct-rpm-ref', 'free', 0);
    // free: 10 requests per minute per user. Zero-second videos cost nothing; each is completed at once (through
    // another replica) so the one concurrency slot never decides.
    const sendBurst = async (accountId: string, pick: () => Service) => {
      let admitted = 0;
      const reasons = new Set<string>();
      for (let i = 0; i < 14; i++) {
        const request = videoRequest(accountId, 0);
        const answer = await admit(request, pick());
        if (answer.status === 200) {
          admitted++;
          const done = await complete(answer, request);
          expect(done.status, JSON.stringify(done.body)).toBe(202);
        } else reasons.add(String(answer.body.reason));
      }
      return { admitted, reasons };
    };
    const spread = await sendBurst('acct-rpm', next);
    const single = await sendBurst('acct-rpm-ref', () => replicas[0] as Service);
    expect(spread.admitted).toBe(10);
    expect(single.admitted).toBe(spread.admitted);
    expect([...spread.reasons]).toEqual(['rate_limited']);
  });

  it('holds one concurrency slot across replicas, and a completion through any replica frees it', async () => {
    await openAccount('acct-slot', 'free', 0);
    const requests = [0, 1, 2].map(() => videoRequest('acct-slot', 0));
    const answers = await Promise.all(requests.map((r, i) => admit(r, replicas[i])));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 429, 429]);
    for (const a of answers.filter((x) => x.status === 429)) expect(a.body.reason).toBe('concurrency_limited');
    const admittedAt = answers.findIndex((a) => a.status === 200);
    // Completed through a replica that did not decide it: the owner frees the slot before answering 202.
    expect((await complete(answers[admittedAt] as Answer, requests[admittedAt] as ReturnType<typeof videoRequest>, replicas[(admittedAt + 1) % 3])).status).toBe(202);
    expect((await admit(videoRequest('acct-slot', 0), replicas[(admittedAt + 2) % 3])).status).toBe(200);
  });

  it('holds credits across replicas: 1,000 available is ten 100-credit holds, then 402', async () => {
    await openAccount('acct-hold', 'payg', 1_000);
    const statuses: number[] = [];
    // Different users: payg allows 5 running requests per user.
    for (let i = 0; i < 12; i++) statuses.push((await admit(videoRequest('acct-hold', 10, { userId: `u-${i}` }))).status);
    expect(statuses).toEqual([...Array<number>(10).fill(200), 402, 402]);
  });

  it('keeps idempotency per (account, requestId) across replicas', async () => {
    await openAccount('acct-i1', 'payg', 1_000);
    await openAccount('acct-i2', 'payg', 1_000);
    const request = videoRequest('acct-i1', 1);
    const first = await admit(request, replicas[0]);
    expect(first.status).toBe(200);
    for (const via of replicas) {
      const again = await admit(request, via);
      expect(again.status).toBe(200);
      expect(again.body).toEqual(first.body);
    }
    expect((await admit({ ...request, userId: 'someone-else' }, replicas[2])).status).toBe(409);
    // The same requestId in another account is another request.
    const other = await admit({ ...request, accountId: 'acct-i2' }, replicas[1]);
    expect(other.status).toBe(200);
    expect(other.body.admissionId).not.toBe(first.body.admissionId);
  });

  it('takes a partition back when a writer outside the group fenced its owner (a stale acquisition), deciding again within 3 s', async () => {
    await openAccount('acct-fence', 'payg', 1_000);
    const owner = String((await admit(videoRequest('acct-fence', 0, { userId: 'u-owner' }))).headers.get(DECIDED_BY_HEADER));
    // What a replica's abandoned take-over does when its InitProducerId lands late: bump the partition's epoch.
    const stale = new TransactionalProducer(run.kafka, `admission.${run.topics.admissions}.${partitionForKey('acct-fence', 8)}`);
    await stale.connect();
    await stale.disconnect();
    const fencedAtMs = Date.now();
    let decided: Answer | null = null;
    for (let i = 0; decided === null && Date.now() - fencedAtMs < 10_000; i++) {
      const answer = await admit(videoRequest('acct-fence', 0, { userId: `u-${i}` }));
      if (answer.status === 200) decided = answer;
      else expect(answer.status, JSON.stringify(answer.body)).toBe(503);
    }
    expect(decided, 'a decision for the fenced partition').not.toBeNull();
    // The group still assigns it to the same replica, which fenced the stale writer in turn.
    expect(decided?.headers.get(DECIDED_BY_HEADER)).toBe(owner);
    expect(Date.now() - fencedAtMs).toBeLessThan(3_000);
  });

  it('moves a SIGKILLed owner\'s accounts to another replica, which goes on deciding with the holds intact', async () => {
    await openAccount('acct-kill', 'payg', 1_000);
    // Five 100-credit holds before the kill (five users: payg runs 5 requests per user at once).
    for (let i = 0; i < 5; i++) expect((await admit(videoRequest('acct-kill', 10, { userId: `u-${i}` }))).status).toBe(200);
    const owner = String((await admit(videoRequest('acct-kill', 0, { userId: 'u-probe' }))).headers.get(DECIDED_BY_HEADER));
    const victim = replicas.find((r) => owner.includes(`-${String(r.process.pid)}-`));
    expect(victim).toBeDefined();
    replicas = replicas.filter((r) => r !== victim);
    await (victim as Service).kill('SIGKILL');

    // Requests wait for the hand-over (or get 503 with Retry-After); none is decided by the dead replica.
    const statuses: number[] = [];
    const deadline = Date.now() + 20_000;
    let i = 5;
    while (!statuses.includes(402) && Date.now() < deadline) {
      const answer = await admit(videoRequest('acct-kill', 10, { userId: `u-${i}` }));
      if (answer.status === 503) {
        expect(answer.headers.get('retry-after')).not.toBeNull();
        continue;
      }
      expect(answer.headers.get(DECIDED_BY_HEADER)).not.toBe(owner);
      statuses.push(answer.status);
      i++;
    }
    // The new owner knew the five holds made before the kill: five more fit in 1,000 credits, not ten.
    expect(statuses).toEqual([200, 200, 200, 200, 200, 402]);
  }, 60_000);
});
