import { describe, expect, it } from 'vitest';
import {
  CLOUDEVENTS_CONTENT_TYPE,
  InvalidEventError,
  makeEvent,
  messageKeyFor,
  parseEvent,
  parseEventJson,
  parseWith,
  SOURCES,
  toKafkaMessage,
} from './envelope';
import { type EventType, eventTypes, usageRequestCompletedV1Schema } from './events';
import { STORABLE_TEXT_MESSAGE } from './primitives';
import { goldenEvent, goldenEventJson } from './fixtures';

describe('messageKeyFor', () => {
  it.each<[EventType, string]>([
    ['io.access.admission.decided.v1', 'acct-7'],
    ['io.access.usage.request_completed.v1', 'acct-7'],
    ['io.access.ledger.credits_granted.v1', 'acct-7'],
    ['io.access.ledger.credits_reserved.v1', 'acct-7'],
    ['io.access.ledger.reservation_settled.v1', 'acct-7'],
    ['io.access.ledger.reservation_voided.v1', 'acct-7'],
    ['io.access.ledger.reservation_expired.v1', 'acct-7'],
    ['io.access.ledger.grant_expired.v1', 'acct-7'],
    ['io.access.ledger.credits_adjusted.v1', 'acct-7'],
    ['io.access.ledger.balance_changed.v1', 'acct-7'],
    ['io.access.load.sampled.v1', 'sora-2'],
    ['io.access.limits.adjusted.v1', 'sora-2|plus|batch'],
    ['io.access.reputation.changed.v1', 'acct-7|u-1'],
    ['io.access.deadletter.recorded.v1', 'access.usage.v1'],
  ])('given a golden %s, then the key is %s', (type, key) => {
    expect(messageKeyFor(goldenEvent(type))).toBe(key);
  });
});

describe('makeEvent', () => {
  const fields = {
    id: '01a21225-dce9-7d74-b0cf-c15a048c4809',
    source: SOURCES.admission,
    time: '2026-11-25T10:00:49.000Z',
  };

  it.each(eventTypes.map((type) => [type]))('given the golden data of %s, then it builds the golden event', (type) => {
    const golden = goldenEvent(type);
    const event = makeEvent(type, { id: golden.id, source: golden.source, time: golden.time, data: golden.data });
    expect(event).toEqual(golden);
    expect(parseEvent(JSON.parse(JSON.stringify(event)))).toEqual({ ok: true, event });
  });

  it('given no subject, then the subject is the message key', () => {
    const data = { ...goldenEvent('io.access.limits.adjusted.v1').data, priority: 'critical' as const };
    expect(makeEvent('io.access.limits.adjusted.v1', { ...fields, data }).subject).toBe('sora-2|plus|critical');
  });

  it('given data with extra fields, then they are dropped from the event', () => {
    const data = { ...goldenEvent('io.access.ledger.grant_expired.v1').data, internalState: { secret: 1 } };
    expect(makeEvent('io.access.ledger.grant_expired.v1', { ...fields, data }).data).not.toHaveProperty('internalState');
  });

  it.each([
    ['data breaks its schema', { data: { ...goldenEvent('io.access.usage.request_completed.v1').data, durationMs: -1 } }, 'data.durationMs'],
    ['a subject other than the key', { subject: 'acct-8' }, 'subject'],
    ['a time without milliseconds', { time: '2026-11-25T10:00:49Z' }, 'time'],
    ['an id that is not a UUIDv7', { id: 'evt-1' }, 'id'],
    ['a UUIDv4 id (accepted from other producers, never made here)', { id: '550e8400-e29b-41d4-a716-446655440000' }, 'id'],
  ])('given %s, then it throws InvalidEventError naming the field', (_name, override, path) => {
    const build = () =>
      makeEvent('io.access.usage.request_completed.v1', {
        ...fields,
        data: goldenEvent('io.access.usage.request_completed.v1').data,
        ...override,
      });
    expect(build).toThrow(InvalidEventError);
    try {
      build();
    } catch (error) {
      expect((error as InvalidEventError).errors.map((e) => e.path)).toContain(path);
    }
  });
});

describe('parseEvent with a topic', () => {
  it('given an event on its own topic, then accepted', () => {
    expect(parseEvent(goldenEventJson('io.access.ledger.credits_granted.v1'), { topic: 'access.ledger.v1' }).ok).toBe(true);
  });

  it('given an event on a topic that does not carry its type, then rejected', () => {
    const result = parseEvent(goldenEventJson('io.access.ledger.balance_changed.v1'), { topic: 'access.ledger.v1' });
    expect(result).toMatchObject({ ok: false, errors: [{ path: 'type' }] });
  });
});

describe('parseEventJson', () => {
  const text = JSON.stringify(goldenEventJson('io.access.load.sampled.v1'));

  it.each([
    ['text', text],
    ['UTF-8 bytes', new TextEncoder().encode(text)],
  ])('given the golden event as %s, then it parses', (_name, raw) => {
    expect(parseEventJson(raw).ok).toBe(true);
  });

  it.each([
    ['truncated JSON', text.slice(0, -1)],
    ['invalid UTF-8', new Uint8Array([0x7b, 0xff, 0x7d])],
    ['an empty value', ''],
  ])('given %s, then rejected with a reason', (_name, raw) => {
    const result = parseEventJson(raw);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(/not UTF-8 JSON/);
  });
});

describe('toKafkaMessage', () => {
  it('given an event, then key, CloudEvents JSON value and content-type header', () => {
    const event = goldenEvent('io.access.reputation.changed.v1');
    const message = toKafkaMessage(event);
    expect(message.key).toBe('acct-7|u-1');
    expect(message.headers).toEqual({ 'content-type': CLOUDEVENTS_CONTENT_TYPE });
    expect(parseEventJson(message.value)).toEqual({ ok: true, event });
  });
});

describe('parseWith', () => {
  it('given an HTTP body with invalid fields, then one problem+json error per field', () => {
    const body = { ...goldenEvent('io.access.usage.request_completed.v1').data, status: 'done', gpuSeconds: -1 };
    const result = parseWith(usageRequestCompletedV1Schema, body);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors.map((e) => e.path).sort()).toEqual(['gpuSeconds', 'status']);
  });
});

describe('AnyAccessEvent', () => {
  it('given a parsed event, then switching on type narrows data', () => {
    const result = parseEvent(goldenEventJson('io.access.ledger.reservation_settled.v1'));
    if (!result.ok) throw new Error(result.reason);
    const event = result.event;
    const charged = event.type === 'io.access.ledger.reservation_settled.v1' ? event.data.actualCredits : undefined;
    expect(charged).toBe(100);
  });
});

describe('free text that a store cannot hold', () => {
  const adjusted = () => goldenEventJson('io.access.ledger.credits_adjusted.v1');
  it.each([
    ['U+0000', 'refund\u0000'],
    ['a lone high surrogate', 'refund \ud800'],
    ['a lone low surrogate', '\udc00 refund'],
  ])('given a reason with %s, then rejected naming data.reason', (_name, reason) => {
    const event = adjusted();
    (event['data'] as Record<string, unknown>)['reason'] = reason;
    const result = parseEvent(event);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors).toContainEqual({ path: 'data.reason', message: STORABLE_TEXT_MESSAGE });
  });

  it('given a reason with a surrogate pair (an emoji), then accepted', () => {
    const event = adjusted();
    (event['data'] as Record<string, unknown>)['reason'] = 'refund \ud83d\ude00';
    expect(parseEvent(event).ok).toBe(true);
  });
});
