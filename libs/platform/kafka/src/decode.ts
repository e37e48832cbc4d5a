/**
 * The one way a consumed Kafka message becomes a contract event, for every consumer: CloudEvents structured mode
 * (the value is the whole event as JSON, header `content-type: application/cloudevents+json`) or binary mode (the
 * CloudEvents Kafka binding: attributes in `ce_*` headers, `content-type` is `datacontenttype`, the value is
 * `data`), which other stacks produce by default. Either way the event is validated with the contract schemas;
 * what is neither, or does not validate, comes back with the reason its dead letter records.
 */
import { CLOUDEVENTS_CONTENT_TYPE, parseEvent, topicCatalog, type AnyAccessEvent, type TopicName } from '@access/contracts';

/** What a decoder needs of a message (a ConsumedMessage has it). */
export interface RawMessage {
  readonly topic: string;
  readonly value: Uint8Array | null;
  readonly headers: Readonly<Record<string, string>>;
}

export type ContentMode = 'structured' | 'binary';

export type DecodeResult = { ok: true; event: AnyAccessEvent; mode: ContentMode } | { ok: false; reason: string };

/** Prefix of the binding's attribute headers (CloudEvents Kafka protocol binding 3.2.3). */
const attributePrefix = 'ce_';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The media type of a `content-type` header, without parameters, lowercased; undefined when absent. */
function mediaType(header: string | undefined): string | undefined {
  return header === undefined ? undefined : header.split(';')[0]!.trim().toLowerCase();
}

/** Which mode a message is in, or why it is in none. */
export function contentModeOf(headers: Readonly<Record<string, string>>): { ok: true; mode: ContentMode } | { ok: false; reason: string } {
  const type = mediaType(headers['content-type']);
  if (type === CLOUDEVENTS_CONTENT_TYPE) return { ok: true, mode: 'structured' };
  if (headers[`${attributePrefix}specversion`] !== undefined) return { ok: true, mode: 'binary' };
  // A message without a content-type is read as structured JSON: what a hand-written producer (kcat, a script)
  // most likely sent, and the event schema still has to accept it.
  if (type === undefined) return { ok: true, mode: 'structured' };
  return {
    ok: false,
    reason: `content-type "${headers['content-type']}" without ce_specversion: neither a structured-mode (${CLOUDEVENTS_CONTENT_TYPE}) nor a binary-mode (ce_* headers) CloudEvent`,
  };
}

function json(bytes: Uint8Array): { ok: true; value: unknown } | { ok: false; reason: string } {
  try {
    return { ok: true, value: JSON.parse(utf8.decode(bytes)) };
  } catch (error) {
    return { ok: false, reason: `not UTF-8 JSON: ${error instanceof Error ? error.message : String(error)}` };
  }
}

/** The binary-mode event as the structured JSON object it stands for: attributes from the headers, data from the value. */
function binaryToStructured(message: RawMessage): { ok: true; value: Record<string, unknown> } | { ok: false; reason: string } {
  const event: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(message.headers)) {
    if (name.startsWith(attributePrefix)) event[name.slice(attributePrefix.length)] = value;
  }
  // The binding maps `datacontenttype` to the `content-type` header; a ce_datacontenttype header is not allowed, but
  // some producers send it too, and then the two must agree (the schema checks the one kept).
  const contentType = message.headers['content-type'] ?? message.headers[`${attributePrefix}datacontenttype`];
  if (contentType !== undefined) event['datacontenttype'] = contentType;
  const data = json(message.value!);
  if (!data.ok) return { ok: false, reason: `data: ${data.reason}` };
  event['data'] = data.value;
  return { ok: true, value: event };
}

function isCatalogTopic(topic: string): topic is TopicName {
  return topicCatalog.some((t) => t.name === topic);
}

/**
 * Decodes and validates one message. With `checkTopic` (default true), an event type its catalog topic does not
 * carry is refused. Never throws.
 */
export function decodeEvent(message: RawMessage, options: { checkTopic?: boolean } = {}): DecodeResult {
  if (message.value === null || message.value.length === 0) return { ok: false, reason: 'empty message value' };
  const mode = contentModeOf(message.headers);
  if (!mode.ok) return mode;
  const raw = mode.mode === 'binary' ? binaryToStructured(message) : json(message.value);
  if (!raw.ok) return raw;
  const topic = (options.checkTopic ?? true) && isCatalogTopic(message.topic) ? { topic: message.topic } : {};
  const parsed = parseEvent(raw.value, topic);
  if (!parsed.ok) return { ok: false, reason: mode.mode === 'binary' ? `binary mode: ${parsed.reason}` : parsed.reason };
  return { ok: true, event: parsed.event, mode: mode.mode };
}
