/**
 * Dead letters as the operator sees them (pure): a `deadletter.recorded` message of the dead-letter topic read
 * into a record, a one-line summary, and the message a redrive publishes: the original key, value and headers,
 * to the original topic.
 */
import { EVENTS, contractLimits, parseEvent, type DeadletterRecordedV1 } from '@access/contracts';
import type { ConsumedMessage, OutgoingMessage } from '@access/platform-kafka';

export interface DeadLetterRecord {
  /** The CloudEvent id of the `deadletter.recorded` event: what `show` and `redrive` take. */
  id: string;
  recordedAt: string;
  /** Where the record itself is in the dead-letter topic. */
  at: { partition: number; offset: string };
  data: DeadletterRecordedV1;
}

export type ReadResult = { ok: true; record: DeadLetterRecord } | { ok: false; at: { partition: number; offset: string }; reason: string };

export function readRecord(message: ConsumedMessage): ReadResult {
  const at = { partition: message.partition, offset: message.offset };
  let json: unknown;
  try {
    json = JSON.parse(message.value?.toString('utf8') ?? '');
  } catch {
    return { ok: false, at, reason: 'not JSON' };
  }
  const parsed = parseEvent(json);
  if (!parsed.ok) return { ok: false, at, reason: parsed.reason };
  if (parsed.event.type !== EVENTS.deadletterRecorded) return { ok: false, at, reason: `${parsed.event.type} is not a dead letter` };
  return { ok: true, record: { id: parsed.event.id, recordedAt: parsed.event.time, at, data: parsed.event.data } };
}

/** `id  time  consumer  topic/partition@offset  error` on one line (the error cut at 120 characters). */
export function summaryLine(record: DeadLetterRecord): string {
  const d = record.data;
  const error = d.error.replace(/\s+/g, ' ');
  return `${record.id}  ${record.recordedAt}  ${d.consumer}  ${d.topic}/${d.partition}@${d.offset}  ${error.length > 120 ? `${error.slice(0, 119)}…` : error}`;
}

/** Everything about one dead letter, the value decoded as UTF-8 when it is text. */
export function details(record: DeadLetterRecord): Record<string, unknown> {
  const value = Buffer.from(record.data.valueBase64, 'base64');
  const text = value.toString('utf8');
  const isText = Buffer.from(text, 'utf8').equals(value);
  return {
    id: record.id,
    recordedAt: record.recordedAt,
    deadLetterAt: record.at,
    consumer: record.data.consumer,
    error: record.data.error,
    topic: record.data.topic,
    partition: record.data.partition,
    offset: record.data.offset,
    key: record.data.key,
    headers: record.data.headers ?? null,
    valueBytes: value.length,
    ...(isText ? { value: text } : { valueBase64: record.data.valueBase64 }),
  };
}

export type RedrivePlan = { ok: true; message: OutgoingMessage; warnings: string[] } | { ok: false; reason: string };

/**
 * The message that puts a dead letter back where it came from: the original topic, key, value and headers. A value
 * the writer had to cut (at the contract's maximum) cannot be redriven faithfully, so it is refused.
 */
export function redrivePlan(record: DeadLetterRecord): RedrivePlan {
  const d = record.data;
  if (d.valueBase64.length >= contractLimits.deadletterValueBase64LengthMax - 3) {
    return { ok: false, reason: `the recorded value was cut at the contract's maximum (${contractLimits.deadletterValueBase64LengthMax} base64 characters); it cannot be redriven as it was` };
  }
  if (d.key !== null && d.key.length >= contractLimits.deadletterKeyLengthMax) {
    return { ok: false, reason: `the recorded key was cut at ${contractLimits.deadletterKeyLengthMax} characters; it cannot be redriven as it was` };
  }
  const warnings = d.headers === undefined ? ['this dead letter was recorded without headers: the message is republished without any'] : [];
  return {
    ok: true,
    warnings,
    message: { topic: d.topic, key: d.key, value: Buffer.from(d.valueBase64, 'base64'), ...(d.headers === undefined ? {} : { headers: { ...d.headers } }) },
  };
}
