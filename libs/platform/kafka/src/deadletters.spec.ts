import { describe, expect, it } from 'vitest';
import { CLOUDEVENTS_CONTENT_TYPE, EVENTS, deadletterData, makeEvent, newEventId } from '@access/contracts';
import { REDRIVEN_FROM_HEADER, deadLetterOf, redriveMessage } from './deadletters';
import type { ConsumedMessage } from './kafka';

const structured = JSON.stringify({ specversion: '1.0', id: 'e-1', source: '/x', type: 'io.access.usage.request_completed.v1', time: '2026-12-04T10:00:00Z', data: {} });

function recorded(value: Buffer | null, key: string | null, offset = '7'): ConsumedMessage {
  const data = deadletterData({ topic: 'access.usage.v1', partition: 3, offset: '41', key, value, error: 'schema: meters missing', consumer: 'credit-ledger' });
  const event = makeEvent(EVENTS.deadletterRecorded, { id: newEventId(), source: '/credit-ledger', time: '2026-12-04T10:00:01.000Z', data });
  return { topic: 'access.deadletter.v1', partition: 0, offset, key: 'access.usage.v1', value: Buffer.from(JSON.stringify(event)), headers: {}, timestampMs: 0 };
}

describe('dead letters read back', () => {
  it('a record becomes a DeadLetter whose id is its own position', () => {
    const letter = deadLetterOf(recorded(Buffer.from(structured), 'acct-1'))!;
    expect(letter.id).toBe('access.deadletter.v1/0/7');
    expect(letter.recordedAt).toBe('2026-12-04T10:00:01.000Z');
    expect(letter.data).toMatchObject({ topic: 'access.usage.v1', partition: 3, offset: '41', key: 'acct-1', error: 'schema: meters missing', consumer: 'credit-ledger' });
  });

  it.each([
    ['a tombstone', null],
    ['not JSON', Buffer.from('{oops')],
    ['another event type', Buffer.from(structured)],
  ])('%s on the dead-letter topic is not a DeadLetter', (_name, value) => {
    const message: ConsumedMessage = { topic: 'access.deadletter.v1', partition: 0, offset: '1', key: null, value, headers: {}, timestampMs: 0 };
    expect(deadLetterOf(message)).toBeUndefined();
  });
});

describe('redriveMessage', () => {
  it.each([
    ['a structured CloudEvent gets its content-type back', Buffer.from(structured), 'acct-1', CLOUDEVENTS_CONTENT_TYPE],
    ['plain JSON is republished without one', Buffer.from('{"not":"an event"}'), 'acct-1', undefined],
    ['bytes that are not text, under a null key', Buffer.from([0xff, 0x00, 0x10]), null, undefined],
    ['an empty value (a tombstone was recorded)', null, 'acct-2', undefined],
  ])('%s: the original topic, key and value byte for byte', (_name, value, key, contentType) => {
    const letter = deadLetterOf(recorded(value, key))!;
    const message = redriveMessage(letter);
    expect(message.topic).toBe('access.usage.v1');
    expect(message.key).toBe(key);
    expect(Buffer.compare(message.value as Buffer, value ?? Buffer.alloc(0))).toBe(0);
    expect(message.headers?.['content-type']).toBe(contentType);
    expect(message.headers?.[REDRIVEN_FROM_HEADER]).toBe('access.deadletter.v1/0/7');
    expect(message.partition).toBeUndefined();
  });
});
