import { describe, expect, it } from 'vitest';
import type { AdmissionDecidedV1 } from '@access/contracts';
import { AdmissionService } from './admission-service';
import { NotOwnerError, type DecisionSink } from './ports';
import { admissionServiceLimits, IDEMPOTENCY_ENTRIES_LIMIT, validateServiceLimits } from './limits';
import { answerOf, completionOf, ManualClock, newService, openAccount, sequentialIds, shippedCatalog, video } from './spec-support';

const decided = async (p: Promise<import('./admission-service').AdmitOutcome>) => {
  const o = await p;
  if (o.kind !== 'decided') throw new Error(`expected a decision, got ${o.kind}`);
  return o;
};
/** A decision made by this call (not a replay), which carries the whole event. */
const decidedNow = async (p: Promise<import('./admission-service').AdmitOutcome>) => {
  const o = await decided(p);
  if (o.replayed) throw new Error('expected a new decision, got a replay');
  return o;
};

describe('AdmissionService: decide, then make durable, then answer', () => {
  it('given an admitted decision, then the answer waits until the sink acknowledged it', async () => {
    const { service, sink } = newService();
    openAccount(service, 'acct-1', 'payg', 1_000);
    sink.mode = 'hold';
    let answered = false;
    const answer = service.admit(video({ seconds: 5 })).then((o) => ((answered = true), o));
    await new Promise((r) => setTimeout(r, 5));
    expect(answered).toBe(false);
    expect(sink.decisions).toHaveLength(0);
    sink.release();
    const o = await decided(answer);
    expect(o.event).toMatchObject({ decision: 'admitted', heldCredits: 50, decidedBy: 'credits' });
    expect(sink.decisions).toEqual([o.event]);
  });

  it('given a rejection, then it is answered without waiting for the sink, and published', async () => {
    const { service, sink } = newService();
    sink.mode = 'hold';
    const o = await decidedNow(service.admit(video({ seconds: 5 }))); // unknown account: payg, 0 credits
    expect(o.event).toMatchObject({ decision: 'rejected', reason: 'insufficient_credits', availableCredits: 0 });
    sink.release();
    expect(sink.decisions).toEqual([o.event]);
  });

  it('given the sink fails, then the admission is undone (slot, hold) and the requestId forgotten', async () => {
    const { service, sink } = newService();
    openAccount(service, 'acct-1', 'payg', 100);
    sink.mode = 'fail';
    const request = video({ seconds: 10 });
    expect(await service.admit(request)).toMatchObject({ kind: 'unavailable' });
    expect(service.state.slotsInUse('acct-1', 'u-1')).toBe(0);
    expect(service.state.account('acct-1')?.availableCredits).toBe(100);
    sink.mode = 'ack';
    expect((await decided(service.admit(request))).event.decision).toBe('admitted');
  });

  it('given state not rebuilt yet, then nothing is decided', async () => {
    const { service, sink } = newService({ ready: false });
    expect(await service.admit(video())).toEqual({ kind: 'not_ready' });
    expect(sink.decisions).toHaveLength(0);
  });

  it('given an invalid request (unknown model), then it is an error value and changes nothing', async () => {
    const { service, sink } = newService();
    const o = await service.admit(video({ model: 'gpt-9' }));
    expect(o).toMatchObject({ kind: 'invalid', error: { code: 'ADMISSION.UNKNOWN_MODEL', path: 'model' } });
    expect(sink.decisions).toHaveLength(0);
    expect(service.state.stats().accounts).toBe(0);
  });
});

describe('AdmissionService: idempotency by requestId', () => {
  it('given the same body again, then the first decision comes back unchanged and nothing is charged twice', async () => {
    const { service, sink, clock } = newService();
    openAccount(service, 'acct-1', 'payg', 1_000);
    const request = video({ seconds: 5 });
    const first = await decided(service.admit(request));
    clock.advance(1_000);
    const again = await decided(service.admit({ ...request, estimate: { dimensions: { resolution: '720p' }, meters: { video_seconds: 5 } } }));
    expect(again).toEqual({ kind: 'decided', event: answerOf(first.event), replayed: true });
    expect(sink.decisions).toHaveLength(1);
    expect(service.state.slotsInUse('acct-1', 'u-1')).toBe(1);
    expect(service.state.account('acct-1')?.availableCredits).toBe(950);
  });

  it('given the same requestId with a different body, then it is a conflict and changes nothing', async () => {
    const { service } = newService();
    openAccount(service, 'acct-1', 'payg', 1_000);
    const request = video({ seconds: 5 });
    const first = await decided(service.admit(request));
    const other = await service.admit({ ...request, priority: 'batch' });
    expect(other).toEqual({ kind: 'conflict', requestId: request.requestId, admissionId: first.event.admissionId });
    expect(service.state.slotsInUse('acct-1', 'u-1')).toBe(1);
  });

  it('given concurrent duplicates while the first is being published, then both get the same admission', async () => {
    const { service, sink } = newService();
    openAccount(service, 'acct-1', 'payg', 1_000);
    sink.mode = 'hold';
    const request = video({ seconds: 5 });
    const a = service.admit(request);
    const b = service.admit(request);
    sink.release();
    const [x, y] = await Promise.all([decided(a), decided(b)]);
    expect(y.event).toBe(x.event);
    expect([x.replayed, y.replayed]).toEqual([false, true]);
    expect(sink.decisions).toHaveLength(1);
  });

  it('given a rejected requestId, then the same body returns the first decision unchanged (CONTRACTS.md)', async () => {
    const { service, sink } = newService();
    const request = video({ seconds: 5 });
    const first = await decided(service.admit(request));
    expect(first.event.reason).toBe('insufficient_credits');
    openAccount(service, 'acct-1', 'payg', 1_000);
    const again = await decided(service.admit(request));
    expect(again.replayed).toBe(true);
    expect(again.event).toEqual(answerOf(first.event));
    expect(sink.decisions).toHaveLength(1);
    // A new requestId is decided afresh: that is how a caller retries after Retry-After.
    expect((await decided(service.admit({ ...request, requestId: `${request.requestId}-retry` }))).event.decision).toBe('admitted');
  });

  it('given 24 hours have passed, then the requestId is forgotten and decided afresh', async () => {
    const { service, clock } = newService();
    openAccount(service, 'acct-1', 'payg', 1_000);
    const request = video({ seconds: 1 });
    const first = await decided(service.admit(request));
    clock.advance(24 * 3_600_000);
    const later = await decided(service.admit(request));
    expect(later.replayed).toBe(false);
    expect(later.event.admissionId).not.toBe(first.event.admissionId);
  });

  it('given more requestIds than the cache holds, then the oldest are evicted first', async () => {
    const { service } = newService({ limits: { idempotencyEntriesMax: 2 } });
    openAccount(service, 'acct-1', 'payg', 1_000);
    const a = video({ seconds: 0, userId: 'ua' });
    const b = video({ seconds: 0, userId: 'ub' });
    const c = video({ seconds: 0, userId: 'uc' });
    for (const r of [a, b, c]) await service.admit(r);
    expect(service.idempotencyEntries).toBe(2);
    expect((await decided(service.admit(c))).replayed).toBe(true);
    expect((await decided(service.admit(a))).replayed).toBe(false);
  });
});

/** A replica's sink whose sends wait, then are fenced: another replica took the partition over meanwhile. */
class FencedSink implements DecisionSink {
  private held: ((error: unknown) => void)[] = [];
  private fenced = false;
  publishDecision(_data: AdmissionDecidedV1): Promise<void> {
    if (this.fenced) return Promise.reject(new NotOwnerError('taken over'));
    return new Promise((_resolve, reject) => this.held.push(reject));
  }
  publishCompletion(): Promise<void> {
    return Promise.resolve();
  }
  fence(): void {
    this.fenced = true;
    for (const reject of this.held.splice(0)) reject(new NotOwnerError('taken over'));
  }
}

describe('AdmissionService: idempotency across replicas', () => {
  it.each([
    ['admitted', 1_000],
    ['rejected', 0],
  ] as const)(
    'given a zombie decided a requestId (%s) that the owner decided too, when the owner\'s decision is read and then the fence fails the zombie\'s, then a retry answers the owner\'s',
    async (_zombieDecision, zombieCredits) => {
      const clock = new ManualClock();
      const sink = new FencedSink();
      // Replicas draw distinct UUIDv7s; two reproducible sources on one clock would not, so this one skips the owner's first.
      const ids = sequentialIds(clock);
      ids.next();
      const zombie = new AdmissionService({ catalog: shippedCatalog(), sink, clock, ids });
      zombie.finishReplay();
      openAccount(zombie, 'acct-1', 'payg', zombieCredits);
      const { service: owner } = newService({ clock });
      openAccount(owner, 'acct-1', 'payg', 1_000);
      const request = video({ seconds: 5 });
      const zombieAnswer = zombie.admit(request);
      const logged = await decidedNow(owner.admit(request));
      zombie.applyDecided(logged.event);
      sink.fence();
      // An admitted decision waited for durability, so its caller hears "not the owner" and is routed to the owner.
      if (zombieCredits > 0) expect(await zombieAnswer).toEqual({ kind: 'not_owner' });
      await new Promise((resolve) => setImmediate(resolve));
      // The partition comes back to the former zombie: the requestId keeps the decision in the log.
      expect(await zombie.admit(request)).toEqual({ kind: 'decided', event: answerOf(logged.event), replayed: true });
    },
  );
});

describe('AdmissionService: limits', () => {
  it('given more idempotency entries than one V8 Map holds, then the limits are refused at boot', () => {
    expect(validateServiceLimits({ ...admissionServiceLimits, idempotencyEntriesMax: IDEMPOTENCY_ENTRIES_LIMIT })).toEqual([]);
    expect(validateServiceLimits({ ...admissionServiceLimits, idempotencyEntriesMax: IDEMPOTENCY_ENTRIES_LIMIT + 1 })).toHaveLength(1);
  });
});

describe('AdmissionService: completions', () => {
  it('given an admitted request, when completed, then the slot is free, the completion published once, and twice is a no-op', async () => {
    const { service, sink } = newService();
    openAccount(service, 'acct-1', 'payg', 1_000);
    const o = await decidedNow(service.admit(video({ seconds: 5 })));
    const completion = completionOf(o.event, 3);
    expect(await service.complete(completion)).toEqual({ kind: 'accepted', duplicate: false });
    expect(service.state.slotsInUse('acct-1', 'u-1')).toBe(0);
    expect(await service.complete(completion)).toEqual({ kind: 'accepted', duplicate: true });
    expect(sink.completions).toEqual([completion]);
    // Our own completion read back from Kafka changes nothing either.
    expect(service.applyCompleted(completion)).toBe('duplicate');
  });

  it('given a completion with a meter the model does not have, then it is invalid and nothing is published', async () => {
    const { service, sink } = newService();
    openAccount(service, 'acct-1', 'payg', 1_000);
    const o = await decidedNow(service.admit(video({ seconds: 5 })));
    const bad = { ...completionOf(o.event, 3), meters: { tokens: 3 } };
    expect(await service.complete(bad)).toMatchObject({ kind: 'invalid', path: 'meters.tokens' });
    expect(sink.completions).toHaveLength(0);
    expect(service.state.slotsInUse('acct-1', 'u-1')).toBe(1);
  });

  it('given the sink fails, then the completion is not applied and may be retried', async () => {
    const { service, sink } = newService();
    openAccount(service, 'acct-1', 'payg', 1_000);
    const o = await decidedNow(service.admit(video({ seconds: 5 })));
    sink.mode = 'fail';
    expect(await service.complete(completionOf(o.event, 3))).toMatchObject({ kind: 'unavailable' });
    expect(service.state.slotsInUse('acct-1', 'u-1')).toBe(1);
    sink.mode = 'ack';
    expect(await service.complete(completionOf(o.event, 3))).toEqual({ kind: 'accepted', duplicate: false });
  });

  it('given a completion consumed from Kafka (another caller), then its slot is freed and its allowance corrected', async () => {
    const { service } = newService();
    openAccount(service, 'acct-1', 'free', 0);
    const o = await decidedNow(service.admit(video({ seconds: 10 }))); // 100 credits, all from the 5h allowance
    expect(o.event.fundedBy).toEqual([{ source: 'allowance', window: '5h', credits: 100 }]);
    expect(service.applyCompleted(completionOf(o.event, 0, 'failed'))).toBe('applied');
    expect(service.state.slotsInUse('acct-1', 'u-1')).toBe(0);
    // The failed request gave its allowance back: another 100-credit video fits the 5h window again.
    expect((await decided(service.admit(video({ seconds: 10 })))).event.fundedBy).toEqual([{ source: 'allowance', window: '5h', credits: 100 }]);
  });
});
