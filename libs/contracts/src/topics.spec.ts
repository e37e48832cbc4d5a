import { describe, expect, it } from 'vitest';
import { eventTypes } from './events';
import { TOPICS, topicCatalog, topicFor, topicSpec } from './topics';

describe('topic catalog', () => {
  it.each([
    ['access.admissions.v1', 8, false, 'accountId'],
    ['access.usage.v1', 8, false, 'accountId'],
    ['access.ledger.v1', 8, false, 'accountId'],
    ['access.balances.v1', 8, true, 'accountId'],
    ['access.load.v1', 3, false, 'model'],
    ['access.limits.v1', 1, true, 'model|plan|priority'],
    ['access.reputation.v1', 4, true, 'accountId|userId'],
    ['access.deadletter.v1', 1, false, 'sourceTopic'],
  ] as const)('given %s, then %i partitions, compacted %s, keyed by %s', (name, partitions, compacted, key) => {
    expect(topicSpec(name)).toMatchObject({ name, partitions, compacted, key });
  });

  it('lists every topic in TOPICS exactly once', () => {
    expect(topicCatalog.map((t) => t.name).sort()).toEqual(Object.values(TOPICS).sort());
  });

  it('gives every event type exactly one topic', () => {
    const carried = topicCatalog.flatMap((t) => t.eventTypes);
    expect([...carried].sort()).toEqual([...eventTypes].sort());
  });

  it.each([
    ['io.access.admission.decided.v1', 'access.admissions.v1'],
    ['io.access.usage.request_completed.v1', 'access.usage.v1'],
    ['io.access.ledger.reservation_settled.v1', 'access.ledger.v1'],
    ['io.access.ledger.balance_changed.v1', 'access.balances.v1'],
    ['io.access.deadletter.recorded.v1', 'access.deadletter.v1'],
  ] as const)('given %s, then it is published to %s', (type, topic) => {
    expect(topicFor(type)).toBe(topic);
  });
});
