/** deadletterData: every writer's dead letter fits the contract, whatever size the dead message was. */
import { describe, expect, it } from 'vitest';
import { contractLimits } from '../limits';
import { deadletterData, deadletterRecordedV1Schema, type DeadMessage } from './deadletter';

const base: DeadMessage = { topic: 'access.usage.v1', partition: 3, offset: '42', key: 'acct-7', value: Buffer.from('{"x":1}'), error: 'not JSON', consumer: 'usage-ingest' };

describe('deadletterData', () => {
  it.each<[string, Partial<DeadMessage>, (d: ReturnType<typeof deadletterData>) => void]>([
    ['keeps a small message whole', {}, (d) => expect(Buffer.from(d.valueBase64, 'base64').toString()).toBe('{"x":1}')],
    ['writes a tombstone as an empty value', { value: null }, (d) => expect(d.valueBase64).toBe('')],
    ['keeps a null key null', { key: null }, (d) => expect(d.key).toBeNull()],
    ['cuts a long key', { key: 'k'.repeat(5_000) }, (d) => expect(d.key).toHaveLength(contractLimits.deadletterKeyLengthMax)],
    ['cuts a long error', { error: 'e'.repeat(10_000) }, (d) => expect(d.error).toHaveLength(contractLimits.deadletterErrorLengthMax)],
    ['names an empty error', { error: '  ' }, (d) => expect(d.error).toBe('unknown error')],
    ['cuts a value beyond the base64 maximum', { value: Buffer.alloc(2_000_000, 1) }, (d) => expect(d.valueBase64.length).toBeLessThanOrEqual(contractLimits.deadletterValueBase64LengthMax)],
    ['keeps the headers', { headers: { traceparent: '00-abc-def-01', 'content-type': 'application/cloudevents+json' } }, (d) => expect(d.headers).toEqual({ traceparent: '00-abc-def-01', 'content-type': 'application/cloudevents+json' })],
    ['records no headers when the writer has none', {}, (d) => expect(d.headers).toBeUndefined()],
    ['leaves out a header too long to keep whole', { headers: { ok: 'v', big: 'x'.repeat(10_000) } }, (d) => expect(d.headers).toEqual({ ok: 'v' })],
    ['keeps at most deadletterHeadersMax headers', { headers: Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`h${i}`, 'v'])) }, (d) => expect(Object.keys(d.headers ?? {})).toHaveLength(contractLimits.deadletterHeadersMax)],
    ['reads a view into a larger buffer from its own offset', { value: Buffer.from('xxhello').subarray(2) }, (d) => expect(Buffer.from(d.valueBase64, 'base64').toString()).toBe('hello')],
  ])('%s, and the result passes the schema', (_name, override, check) => {
    const data = deadletterData({ ...base, ...override });
    check(data);
    expect(deadletterRecordedV1Schema.safeParse(data).success).toBe(true);
  });
});
