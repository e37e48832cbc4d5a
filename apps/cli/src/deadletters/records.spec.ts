import { describe, expect, it } from 'vitest';
import { CLOUDEVENTS_CONTENT_TYPE, EVENTS, SOURCES, contractLimits, deadletterData, makeEvent, newEventId, type DeadMessage } from '@access/contracts';
import type { ConsumedMessage } from '@access/platform-kafka';
import { details, readRecord, redrivePlan, summaryLine } from './records';

const dead: DeadMessage = {
  topic: 'access.usage.v1', partition: 2, offset: '41', key: 'acct-7', value: Buffer.from('{not json'), error: 'value is not JSON',
  consumer: 'credit-ledger', headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', 'content-type': CLOUDEVENTS_CONTENT_TYPE },
};

function consumed(message: DeadMessage, value?: Buffer): ConsumedMessage {
  const event = makeEvent(EVENTS.deadletterRecorded, { id: newEventId(), source: SOURCES.creditLedger, time: '2026-12-04T12:00:00.000Z', data: deadletterData(message) });
  return { topic: 'access.deadletter.v1', partition: 0, offset: '7', key: message.topic, value: value ?? Buffer.from(JSON.stringify(event)), headers: {}, timestampMs: 0 };
}

describe('dead-letter records', () => {
  it('reads a deadletter.recorded message, summarises it on one line and shows the value as text', () => {
    const read = readRecord(consumed(dead));
    expect(read.ok).toBe(true);
    if (!read.ok) return;
    expect(read.record.at).toEqual({ partition: 0, offset: '7' });
    expect(summaryLine(read.record)).toBe(`${read.record.id}  2026-12-04T12:00:00.000Z  credit-ledger  access.usage.v1/2@41  value is not JSON`);
    expect(details(read.record)).toMatchObject({ topic: 'access.usage.v1', key: 'acct-7', value: '{not json', valueBytes: 9, headers: dead.headers });
  });

  it('shows a value that is not UTF-8 as base64', () => {
    const read = readRecord(consumed({ ...dead, value: Buffer.from([0xff, 0x00, 0xfe]) }));
    expect(read.ok && details(read.record)).toMatchObject({ valueBase64: '/wD+', valueBytes: 3 });
  });

  it.each([
    ['not JSON', Buffer.from('nope')],
    ['not a CloudEvent', Buffer.from('{"a":1}')],
  ])('reports an unreadable message (%s) instead of throwing', (_name, value) => {
    expect(readRecord(consumed(dead, value))).toMatchObject({ ok: false, at: { partition: 0, offset: '7' } });
  });

  it('redrives the original key, value bytes and headers to the original topic', () => {
    const read = readRecord(consumed(dead));
    if (!read.ok) throw new Error('unreadable');
    const plan = redrivePlan(read.record);
    expect(plan).toEqual({ ok: true, warnings: [], message: { topic: 'access.usage.v1', key: 'acct-7', value: Buffer.from('{not json'), headers: dead.headers } });
  });

  it('redrives a record without headers with none, and says so', () => {
    const { headers: _none, ...withoutHeaders } = dead;
    const read = readRecord(consumed(withoutHeaders));
    if (!read.ok) throw new Error('unreadable');
    const plan = redrivePlan(read.record);
    expect(plan.ok && plan.message.headers).toBeUndefined();
    expect(plan.ok && plan.warnings).toEqual([expect.stringContaining('without headers')]);
  });

  it('refuses to redrive a value the writer had to cut', () => {
    const read = readRecord(consumed({ ...dead, value: Buffer.alloc(2_000_000, 7) }));
    if (!read.ok) throw new Error('unreadable');
    expect(read.record.data.valueBase64.length).toBeGreaterThan(contractLimits.deadletterValueBase64LengthMax - 4);
    expect(redrivePlan(read.record)).toMatchObject({ ok: false, reason: expect.stringContaining('cut') });
  });
});
