import { describe, expect, it } from 'vitest';
import { OwnershipTable } from '@access/admission-application';
import type { HttpAnswer } from '../http/render';
import { DECIDED_BY_HEADER, FORWARDED_HEADER, NOT_OWNER_HEADER, type ForwardedAnswer, type OwnerClient } from './forwarder';
import { AdmissionRouter, type RoutedRequest } from './router';

const ok: HttpAnswer = { status: 200, headers: { 'content-type': 'application/json' }, body: { decision: 'admitted' } };
const request = (forwardedBy?: string): RoutedRequest => ({ accountId: 'acct-1', path: '/v1/admissions', headers: { authorization: 'Bearer t' }, body: () => '{}', forwardedBy });
const answer = (status: number, headers: Record<string, string> = {}): ForwardedAnswer => ({ status, headers, body: Buffer.from('{"x":1}') });

/** A fake owner client: answers from a script, records the calls. */
function client(script: (url: string) => ForwardedAnswer | Error): OwnerClient & { calls: string[] } {
  const calls: string[] = [];
  return {
    replicaId: 'me',
    calls,
    post: (url) => {
      calls.push(url);
      const out = script(url);
      return out instanceof Error ? Promise.reject(out) : Promise.resolve(out);
    },
  };
}

function setup(owner: Parameters<OwnershipTable['set']>[1], script: (url: string) => ForwardedAnswer | Error, deadlineMs = 300) {
  const table = new OwnershipTable(4, () => 2);
  table.set(2, owner);
  let refreshes = 0;
  const owners = { refreshOwners: () => ((refreshes += 1), Promise.resolve()) };
  const fake = client(script);
  const router = new AdmissionRouter(table, owners, fake, deadlineMs);
  return { table, router, fake, refreshes: () => refreshes };
}

describe('AdmissionRouter', () => {
  it('decides locally when it owns the partition, and names itself', async () => {
    const { router, fake } = setup({ kind: 'owned' }, () => new Error('no forwarding expected'));
    const routed = await router.route(request(), () => Promise.resolve(ok));
    expect(routed).toEqual({ kind: 'local', answer: { ...ok, headers: { ...ok.headers, [DECIDED_BY_HEADER]: 'me' } } });
    expect(fake.calls).toEqual([]);
  });

  it("returns the owner's answer unchanged", async () => {
    const owners = answer(429, { 'retry-after': '3', [DECIDED_BY_HEADER]: 'owner' });
    const { router, fake } = setup({ kind: 'remote', url: 'http://owner' }, () => owners);
    expect(await router.route(request(), () => Promise.reject(new Error('must not decide')))).toEqual({ kind: 'forwarded', answer: owners });
    expect(fake.calls).toEqual(['http://owner']);
  });

  it('follows a hand-over: the old owner says not-owner, the table moves, the new owner answers', async () => {
    const { router, table, fake } = setup({ kind: 'remote', url: 'http://old' }, (url) => (url === 'http://old' ? answer(503, { [NOT_OWNER_HEADER]: '1' }) : answer(200)));
    const routed = router.route(request(), () => Promise.reject(new Error('must not decide')));
    setTimeout(() => table.set(2, { kind: 'remote', url: 'http://new' }), 20);
    expect(await routed).toMatchObject({ kind: 'forwarded', answer: { status: 200 } });
    expect(fake.calls).toEqual(['http://old', 'http://new']);
  });

  it('waits for a partition being taken over here, then decides locally', async () => {
    const { router, table } = setup({ kind: 'acquiring' }, () => new Error('no forwarding expected'));
    setTimeout(() => table.set(2, { kind: 'owned' }), 30);
    expect(await router.route(request(), () => Promise.resolve(ok))).toMatchObject({ kind: 'local', answer: { status: 200 } });
  });

  it('retries locally when the partition was lost while deciding (fenced), then forwards to the new owner', async () => {
    const { router, table } = setup({ kind: 'owned' }, () => answer(200, { [DECIDED_BY_HEADER]: 'new' }));
    const routed = await router.route(request(), () => {
      table.set(2, { kind: 'remote', url: 'http://new' });
      return Promise.resolve('not_owner' as const);
    });
    expect(routed).toMatchObject({ kind: 'forwarded', answer: { headers: { [DECIDED_BY_HEADER]: 'new' } } });
  });

  it('answers 503 with Retry-After when no owner appears before the deadline, having decided nowhere', async () => {
    const { router, refreshes } = setup({ kind: 'unknown' }, () => new Error('no forwarding expected'), 120);
    const t0 = Date.now();
    const routed = await router.route(request(), () => Promise.reject(new Error('must not decide')));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(100);
    expect(routed.kind).toBe('local');
    expect(routed.answer.status).toBe(503);
    expect(routed.answer.headers['retry-after']).toBe('1');
    expect((routed.answer as HttpAnswer).body).toMatchObject({ code: 'ADMISSION.OWNER_UNAVAILABLE' });
    expect(refreshes()).toBeGreaterThan(0);
  });

  it('an unreachable owner is looked up again until the deadline', async () => {
    const { router, fake, refreshes } = setup({ kind: 'remote', url: 'http://dead' }, () => new Error('ECONNREFUSED'), 150);
    const routed = await router.route(request(), () => Promise.reject(new Error('must not decide')));
    expect(routed.answer.status).toBe(503);
    expect(fake.calls.length).toBeGreaterThan(0);
    expect(refreshes()).toBe(fake.calls.length);
  });

  it('gives up a forward the moment the partition moves (a paused owner never answers), and asks the new owner', async () => {
    const table = new OwnershipTable(4, () => 2);
    table.set(2, { kind: 'remote', url: 'http://paused' });
    const calls: string[] = [];
    const hanging: OwnerClient = {
      replicaId: 'me',
      post: (url, _path, _headers, _body, _timeoutMs, signal) => {
        calls.push(url);
        if (url !== 'http://paused') return Promise.resolve(answer(200, { [DECIDED_BY_HEADER]: 'new' }));
        // The paused owner: no answer, ever; only the caller's signal ends the wait.
        return new Promise((_, reject) => signal?.addEventListener('abort', () => reject(new Error('aborted'))));
      },
    };
    const router = new AdmissionRouter(table, { refreshOwners: () => Promise.resolve() }, hanging, 2_500);
    const t0 = Date.now();
    const routed = router.route(request(), () => Promise.reject(new Error('must not decide')));
    setTimeout(() => table.set(2, { kind: 'remote', url: 'http://new' }), 50);
    expect(await routed).toMatchObject({ kind: 'forwarded', answer: { headers: { [DECIDED_BY_HEADER]: 'new' } } });
    expect(calls).toEqual(['http://paused', 'http://new']);
    // Well before one forward attempt's timeout (1.2 s): the request followed the move, it did not wait it out.
    expect(Date.now() - t0).toBeLessThan(600);
  });

  it('routes again at once when the partition moved while a forward was failing', async () => {
    const table = new OwnershipTable(4, () => 2);
    table.set(2, { kind: 'remote', url: 'http://old' });
    const calls: string[] = [];
    const fake: OwnerClient = {
      replicaId: 'me',
      post: async (url) => {
        calls.push(url);
        if (url === 'http://new') return answer(200);
        // The old owner fails slowly; the table learns of the new owner before the failure comes back.
        table.set(2, { kind: 'remote', url: 'http://new' });
        await new Promise((r) => setTimeout(r, 20));
        throw new Error('ECONNRESET');
      },
    };
    const router = new AdmissionRouter(table, { refreshOwners: () => Promise.resolve() }, fake, 2_500);
    const t0 = Date.now();
    expect(await router.route(request(), () => Promise.reject(new Error('must not decide')))).toMatchObject({ kind: 'forwarded', answer: { status: 200 } });
    expect(calls).toEqual(['http://old', 'http://new']);
    expect(Date.now() - t0).toBeLessThan(600);
  });

  it('never forwards a forwarded request again: a non-owner answers not-owner at once', async () => {
    const { router, fake } = setup({ kind: 'remote', url: 'http://elsewhere' }, () => answer(200));
    const routed = await router.route(request('replica-a'), () => Promise.reject(new Error('must not decide')));
    expect(fake.calls).toEqual([]);
    expect(routed.answer.status).toBe(503);
    expect(routed.answer.headers[NOT_OWNER_HEADER]).toBe('1');
    expect(FORWARDED_HEADER).toBe('access-forwarded-by');
  });
});
