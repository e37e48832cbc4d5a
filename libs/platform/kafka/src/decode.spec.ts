import { describe, expect, it } from 'vitest';
import { CLOUDEVENTS_CONTENT_TYPE, TOPICS, eventIdentity, goldenEventJson } from '@access/contracts';
import { contentModeOf, decodeEvent, type RawMessage } from './decode';

const golden = () => goldenEventJson('io.access.usage.request_completed.v1');

function structured(event: Record<string, unknown>, headers: Record<string, string> = { 'content-type': CLOUDEVENTS_CONTENT_TYPE }): RawMessage {
  return { topic: TOPICS.usage, value: Buffer.from(JSON.stringify(event)), headers };
}

/** The CloudEvents Kafka binding's binary mode, as the SDKs write it. */
function binary(event: Record<string, unknown>, extra: Record<string, string> = {}): RawMessage {
  const headers: Record<string, string> = { 'content-type': String(event['datacontenttype'] ?? 'application/json') };
  for (const [name, value] of Object.entries(event)) if (name !== 'data' && name !== 'datacontenttype') headers[`ce_${name}`] = String(value);
  return { topic: TOPICS.usage, value: Buffer.from(JSON.stringify(event['data'])), headers: { ...headers, ...extra } };
}

function withoutHeader(message: RawMessage, name: string): RawMessage {
  const { [name]: _dropped, ...headers } = message.headers;
  return { ...message, headers };
}

describe('decodeEvent', () => {
  it('given a structured-mode message, then the event, in structured mode', () => {
    expect(decodeEvent(structured(golden()))).toEqual({ ok: true, event: golden(), mode: 'structured' });
  });

  it('given a binary-mode message of the same event, then the same event, in binary mode', () => {
    expect(decodeEvent(binary(golden()))).toEqual({ ok: true, event: golden(), mode: 'binary' });
  });

  it.each([
    ['a UUIDv4 id', '7d444840-9dc0-41cc-b0b2-1c3e8f9a1c2b'],
    ['a ULID id', '01JEB8Z6X1T1S7Y0C4K9W3D2QF'],
  ])('given %s from another producer, in either mode, then accepted with that id', (_name, id) => {
    const event = { ...golden(), id, source: '//video-service/eu' };
    for (const message of [structured(event), binary(event)]) {
      const result = decodeEvent(message);
      expect(result.ok && result.event.id).toBe(id);
    }
  });

  it('given a structured message without content-type (kcat, a script), then read as structured', () => {
    expect(decodeEvent(structured(golden(), {})).ok).toBe(true);
  });

  it('given binary mode with a charset on content-type and no subject, then accepted with the key as subject', () => {
    const { subject: _subject, ...event } = golden();
    const result = decodeEvent(binary({ ...event, datacontenttype: 'application/json; charset=utf-8' }));
    expect(result).toEqual({ ok: true, event: golden(), mode: 'binary' });
  });

  it.each<[string, RawMessage, string]>([
    ['an empty value', { topic: TOPICS.usage, value: Buffer.alloc(0), headers: {} }, 'empty message value'],
    ['a null value (tombstone)', { topic: TOPICS.usage, value: null, headers: {} }, 'empty message value'],
    ['neither mode (plain JSON content-type, no ce_ headers)', structured(golden(), { 'content-type': 'application/json' }), 'neither a structured-mode'],
    ['structured, not JSON', { topic: TOPICS.usage, value: Buffer.from('{nope'), headers: { 'content-type': CLOUDEVENTS_CONTENT_TYPE } }, 'not UTF-8 JSON'],
    ['structured, not UTF-8', { topic: TOPICS.usage, value: Buffer.from([0x7b, 0xff, 0x7d]), headers: {} }, 'not UTF-8 JSON'],
    ['binary, data not JSON', { ...binary(golden()), value: Buffer.from('<xml/>') }, 'data: not UTF-8 JSON'],
    ['binary, data in XML', binary({ ...golden(), datacontenttype: 'application/xml' }), 'datacontenttype'],
    ['binary, no ce_id', withoutHeader(binary(golden()), 'ce_id'), 'id:'],
    ['binary, an id of 129 characters', binary({ ...golden(), id: 'x'.repeat(129) }), 'id:'],
    ['a type the topic does not carry', { ...structured(goldenEventJson('io.access.load.sampled.v1')), topic: TOPICS.usage }, 'is not carried by access.usage.v1'],
    ['binary, U+0000 in a dimension', binary({ ...golden(), data: { ...(golden()['data'] as object), dimensions: { resolution: '1080p\u0000' } } }), 'data.dimensions.resolution'],
  ])('given %s, then a dead-letter reason', (_name, message, reason) => {
    const result = decodeEvent(message);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toContain(reason);
  });
});

describe('contentModeOf', () => {
  it.each<[Record<string, string>, string]>([
    [{ 'content-type': 'application/cloudevents+json; charset=UTF-8' }, 'structured'],
    [{ 'content-type': 'application/json', ce_specversion: '1.0' }, 'binary'],
    [{}, 'structured'],
  ])('given headers %j, then %s', (headers, mode) => {
    expect(contentModeOf(headers)).toEqual({ ok: true, mode });
  });
});

describe('eventIdentity', () => {
  it('given the same id from two sources, then two identities; the same source and id, one', () => {
    expect(eventIdentity({ source: '/a', id: '1' })).not.toBe(eventIdentity({ source: '/b', id: '1' }));
    expect(eventIdentity({ source: '/a', id: 'x y' })).toBe(eventIdentity({ source: '/a', id: 'x y' }));
  });
});
