/**
 * StateReader against the real broker, on topics of its own: state is rebuilt from balances, limits,
 * reputation and the replay of decisions, completions and ledger reservations; it is ready once caught
 * up; afterwards it follows live; poison that arrives live is dead-lettered; the look-back bounds the replay;
 * live balances stamped by the ledger report their freshness.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdmissionService, MemorySink, sequentialIds, type AdmissionInput } from '@access/admission-application';
import { parseCatalog, type Catalog } from '@access/catalog';
import { CAUSED_AT_HEADER, EVENTS, SOURCES, makeEvent, newEventId, type AnyAccessEvent } from '@access/contracts';
import { EventProducer, KafkaAdmin, createKafka, encodeEvent, sleep, type Kafka } from '@access/platform-kafka';
import { requireStack, testName } from '@access/testing';
import { completedEnvelope, decidedEnvelope } from './kafka-decision-sink';
import { StateReader } from './state-reader';
import type { AdmissionTopics } from './topics';

const root = join(__dirname, '..', '..', '..', '..', '..');
const catalog: Catalog = (() => {
  const r = parseCatalog(readFileSync(join(root, 'config', 'plans.yaml'), 'utf8'), readFileSync(join(root, 'config', 'price-book.yaml'), 'utf8'));
  if (!r.ok) throw new Error('catalog');
  return r.value;
})();
const realClock = { nowMs: () => Date.now() };
const logger = pino({ level: 'silent' });

let kafka: Kafka;
let admin: KafkaAdmin;
let producer: EventProducer;
const created: string[] = [];

async function freshTopics(): Promise<AdmissionTopics> {
  const t: AdmissionTopics = {
    admissions: testName('adm'), usage: testName('usage'), ledger: testName('ledger'), balances: testName('bal'),
    limits: testName('lim'), reputation: testName('rep'), deadletter: testName('dlq'),
  };
  await admin.ensureTopics([
    { name: t.admissions, partitions: 2, compacted: false }, { name: t.usage, partitions: 2, compacted: false },
    { name: t.ledger, partitions: 2, compacted: false }, { name: t.balances, partitions: 2, compacted: true },
    { name: t.limits, partitions: 1, compacted: true }, { name: t.reputation, partitions: 1, compacted: true },
    { name: t.deadletter, partitions: 1, compacted: false },
  ]);
  created.push(...Object.values(t));
  return t;
}

const publish = (topic: string, event: AnyAccessEvent) => producer.send(encodeEvent(event, topic));
const now = () => new Date().toISOString();
const balance = (accountId: string, plan: string, available: number, version: number) =>
  makeEvent(EVENTS.balanceChanged, { id: newEventId(), source: SOURCES.creditLedger, time: now(), data: { accountId, version, balanceCredits: available, heldCredits: 0, availableCredits: available, plan, occurredAt: now() } });
const reserved = (accountId: string, admissionId: string, requestId: string, credits: number, version: number) =>
  makeEvent(EVENTS.creditsReserved, { id: newEventId(), source: SOURCES.creditLedger, time: now(), data: { accountId, version, occurredAt: now(), admissionId, requestId, credits, draws: [], expiresAt: new Date(Date.now() + 1_800_000).toISOString() } });
const request = (accountId: string, seconds: number, extra: Partial<AdmissionInput> = {}): AdmissionInput => ({
  requestId: newEventId().slice(-12), accountId, userId: 'u-1', model: 'sora-2', endpoint: 'video.generate', priority: 'standard',
  estimate: { meters: { video_seconds: seconds }, dimensions: { resolution: '720p' } }, ...extra,
});

function newReader(topics: AdmissionTopics, lookbackMs: number, extra: { nowMs?: () => number; onBalanceFreshness?: (ms: number) => void } = {}) {
  const sink = new MemorySink();
  const service = new AdmissionService({ catalog, sink, clock: realClock, ids: sequentialIds(realClock) });
  const reader = new StateReader({ kafka, admin, producer, service, topics, lookbackMs, groupId: testName('g'), replicaId: testName('replica'), nowMs: () => Date.now(), logger, ...extra });
  return { service, reader, sink };
}

async function until(check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(50);
  }
}

beforeAll(async () => {
  const stack = await requireStack(['kafka']);
  kafka = createKafka({ brokers: stack.kafkaBrokers, clientId: 'admission-state-int' });
  admin = new KafkaAdmin(kafka);
  await admin.connect();
  producer = new EventProducer(kafka, { lingerMs: 1 });
  await producer.connect();
});

afterAll(async () => {
  await producer?.disconnect();
  await admin?.deleteTopics(created).catch(() => undefined);
  await admin?.disconnect();
});

describe('StateReader', () => {
  it('rebuilds slots, holds, idempotency, limits and reputation from Kafka, then follows live and dead-letters live poison', async () => {
    const topics = await freshTopics();
    // What a previous admission process did: its own service, whose decisions and completions we publish.
    const before = new MemorySink();
    const previous = new AdmissionService({ catalog, sink: before, clock: realClock, ids: sequentialIds(realClock) });
    previous.finishReplay();
    const balances = [balance('acct-a', 'payg', 1_000, 1), balance('acct-b', 'free', 0, 1)];
    for (const b of balances) previous.applyBalance(b.data);
    const first = request('acct-a', 5);
    const a1 = await previous.admit(first);
    const a2 = await previous.admit(request('acct-a', 3));
    const b1 = await previous.admit(request('acct-b', 5));
    if (a1.kind !== 'decided' || a2.kind !== 'decided' || b1.kind !== 'decided') throw new Error('expected decisions');
    expect([a1.event.heldCredits, a2.event.heldCredits, b1.event.fundedBy]).toEqual([50, 30, [{ source: 'allowance', window: '5h', credits: 50 }]]);
    await previous.complete({
      admissionId: a2.event.admissionId, requestId: a2.event.requestId, accountId: 'acct-a', userId: 'u-1', model: 'sora-2', endpoint: 'video.generate',
      status: 'succeeded', meters: { video_seconds: 3 }, dimensions: { resolution: '720p' }, gpuSeconds: 1, durationMs: 10, startedAt: now(), endedAt: now(),
    });
    // The ledger reserved the first hold (version 2) and published the balance that includes it.
    const r1 = reserved('acct-a', a1.event.admissionId, a1.event.requestId, 50, 2);
    const b2 = balance('acct-a', 'payg', 950, 2);
    previous.applyLedgerPosition(a1.event.admissionId, 2);
    previous.applyBalance(b2.data);
    const shed = makeEvent(EVENTS.limitsAdjusted, { id: newEventId(), source: SOURCES.loadFeedback, time: now(), data: { model: 'sora-2', plan: 'payg', priority: 'batch', multiplier: 0, reason: 'overload', inputs: {} } });

    for (const b of balances) await publish(topics.balances, b);
    for (const d of before.decisions) await producer.send(encodeEvent(decidedEnvelope(d), topics.admissions));
    for (const c of before.completions) await producer.send(encodeEvent(completedEnvelope(c, now()), topics.usage));
    await publish(topics.ledger, r1);
    await publish(topics.balances, b2);
    await publish(topics.limits, shed);
    await publish(topics.reputation, makeEvent(EVENTS.reputationChanged, { id: newEventId(), source: SOURCES.loadFeedback, time: now(), data: { accountId: 'acct-a', userId: 'u-1', factor: 0.5, signals: {} } }));

    const { service, reader } = newReader(topics, 3_600_000);
    await reader.start();
    try {
      await reader.caughtUp;
      expect(service.isReady).toBe(true);
      previous.state.expire(Date.now());
      expect(service.state.account('acct-a')?.availableCredits).toBe(previous.state.account('acct-a')?.availableCredits);
      expect(service.state.account('acct-a')?.availableCredits).toBe(920); // 950 seen by the ledger − 30 not yet reflected
      expect(service.state.slotsInUse('acct-a', 'u-1')).toBe(1); // a2 completed, a1 still running
      expect(service.state.slotsInUse('acct-b', 'u-1')).toBe(1);
      // The same requestId answers with the first decision; the shed multiplier is in force.
      expect(await service.admit(first)).toMatchObject({ kind: 'decided', replayed: true, event: { admissionId: a1.event.admissionId } });
      expect(await service.admit(request('acct-a', 1, { priority: 'batch' }))).toMatchObject({ event: { reason: 'load_shed', multipliers: { load: 0, reputation: 0.5 } } });
      // free has one slot per user: acct-b's running video still holds it.
      expect(await service.admit(request('acct-b', 1))).toMatchObject({ event: { reason: 'concurrency_limited' } });

      // Live: a completion from another caller frees a1's slot; a new balance is applied; poison is dead-lettered.
      await producer.send(encodeEvent(completedEnvelope({
        admissionId: a1.event.admissionId, requestId: a1.event.requestId, accountId: 'acct-a', userId: 'u-1', model: 'sora-2', endpoint: 'video.generate',
        status: 'succeeded', meters: { video_seconds: 4 }, dimensions: { resolution: '720p' }, gpuSeconds: 1, durationMs: 10, startedAt: now(), endedAt: now(),
      }, now()), topics.usage));
      await publish(topics.balances, balance('acct-b', 'free', 500, 2));
      await producer.send({ topic: topics.usage, key: 'acct-a', value: '{not json' });
      await until(() => service.state.slotsInUse('acct-a', 'u-1') === 0 && service.state.account('acct-b')?.ledgerAvailableCredits === 500);
      const deadline = Date.now() + 20_000;
      let dead = 0n;
      while (dead === 0n && Date.now() < deadline) {
        dead = [...(await admin.highWatermarks(topics.deadletter)).values()].reduce((a, b) => a + b, 0n);
        if (dead === 0n) await sleep(100);
      }
      expect(dead).toBe(1n);
    } finally {
      await reader.stop();
    }
  });

  it('replays only what happened within the look-back', async () => {
    const topics = await freshTopics();
    const before = new MemorySink();
    const previous = new AdmissionService({ catalog, sink: before, clock: realClock, ids: sequentialIds(realClock) });
    previous.finishReplay();
    previous.applyBalance(balance('acct-c', 'payg', 1_000, 1).data);
    await previous.admit(request('acct-c', 1));
    for (const d of before.decisions) await producer.send(encodeEvent(decidedEnvelope(d), topics.admissions));
    await sleep(1_500);

    const short = newReader(topics, 1_000);
    await short.reader.start();
    await short.reader.caughtUp;
    expect(short.service.state.slotsInUse('acct-c', 'u-1')).toBe(0);
    await short.reader.stop();

    const long = newReader(topics, 60_000);
    await long.reader.start();
    await long.reader.caughtUp;
    expect(long.service.state.slotsInUse('acct-c', 'u-1')).toBe(1);
    await long.reader.stop();
  });

  it('reports the freshness of live balances that carry the ledger\'s cause time, and of no other', async () => {
    const topics = await freshTopics();
    const stamped = (event: AnyAccessEvent, causedAtMs: number) => {
      const message = encodeEvent(event, topics.balances);
      return producer.send({ ...message, headers: { ...message.headers, [CAUSED_AT_HEADER]: String(causedAtMs) } });
    };
    // The reader's clock stands still, so that a reported freshness is exactly clock − cause.
    const clockMs = Date.now();
    await stamped(balance('acct-f', 'payg', 100, 1), clockMs - 60_000); // before the start: replayed, not measured
    const reported: number[] = [];
    const { service, reader } = newReader(topics, 60_000, { nowMs: () => clockMs, onBalanceFreshness: (ms) => reported.push(ms) });
    await reader.start();
    try {
      await reader.caughtUp;
      await stamped(balance('acct-f', 'payg', 200, 2), clockMs - 1_234);
      await publish(topics.balances, balance('acct-f', 'payg', 300, 3)); // no cause (an HTTP grant): not measured
      await until(() => service.state.account('acct-f')?.ledgerAvailableCredits === 300);
      expect(reported).toEqual([1_234]);
    } finally {
      await reader.stop();
    }
  });

  it('is ready at once when there is nothing to read', async () => {
    const topics = await freshTopics();
    const { service, reader } = newReader(topics, 60_000);
    await reader.start();
    expect(reader.isCaughtUp).toBe(true);
    expect(service.isReady).toBe(true);
    await reader.stop();
  });
});
