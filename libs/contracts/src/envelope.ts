import { z } from 'zod';
import { type EventData, type EventType, EVENTS, eventDataSchemas, eventTypes, isEventType } from './events';
import { contractLimits } from './limits';
import { cloudEventIdSchema, isStorableText, isoTimeSchema, STORABLE_TEXT_MESSAGE, uuidv7Schema } from './primitives';
import { topicSpec, type TopicName } from './topics';

/** Kafka header `content-type` of every message: CloudEvents structured mode. */
export const CLOUDEVENTS_CONTENT_TYPE = 'application/cloudevents+json';

/**
 * Kafka header of a `ledger.balance_changed` message: when the oldest message whose effect the balance includes
 * was published (its Kafka timestamp, milliseconds since the epoch, as a decimal string). Absent when no consumed
 * message caused the change (an HTTP grant, an expiry). Admission subtracts it from its clock on arrival to
 * measure ledger-to-admission freshness; it is a measurement, never an input to a decision.
 */
export const CAUSED_AT_HEADER = 'access-caused-at';

/** CloudEvents `source` of each service (a URI-reference); fleets use their own, e.g. `/fleet/sora-eu`. */
export const SOURCES = {
  admission: '/access/admission',
  creditLedger: '/access/credit-ledger',
  usageIngest: '/access/usage-ingest',
  loadFeedback: '/access/load-feedback',
  cli: '/access/cli',
} as const;

/**
 * A CloudEvents 1.0 structured-mode event of one type. Distributive, so `AccessEvent<A | B>` is
 * `AccessEvent<A> | AccessEvent<B>` and still narrows on `type`.
 */
export type AccessEvent<T extends EventType = EventType> = T extends EventType
  ? {
      specversion: '1.0';
      id: string;
      source: string;
      type: T;
      time: string;
      subject: string;
      datacontenttype: 'application/json';
      data: EventData<T>;
    }
  : never;

/** Any event, discriminated on `type`: `switch (event.type)` narrows `event.data`. */
export type AnyAccessEvent = AccessEvent<EventType>;

/** The part of an event its message key is computed from. */
export type KeyedEvent = { [T in EventType]: { type: T; data: EventData<T> } }[EventType];

/** One invalid field, in the shape of a problem+json `errors` entry. */
export type ContractIssue = { path: string; message: string };

export type ParseEventResult =
  | { ok: true; event: AnyAccessEvent }
  | { ok: false; reason: string; errors: ContractIssue[] };

export type ParseResult<T> = { ok: true; value: T } | { ok: false; reason: string; errors: ContractIssue[] };

/**
 * The CloudEvent `time` as other producers write it (RFC 3339: any fraction of a second, any offset), read as the
 * instant it names in this system's form (UTC, milliseconds), so consumers compare and store one spelling.
 */
const cloudEventTimeSchema = z.iso
  .datetime({ offset: true, message: 'must be an RFC 3339 time, e.g. 2026-11-25T10:00:00.000Z' })
  .transform((time) => new Date(time).toISOString())
  .pipe(isoTimeSchema);

/**
 * `datacontenttype`: JSON only. Absent means JSON (CloudEvents JSON format); media-type parameters such as
 * `charset=utf-8` do not change what the data is.
 */
const dataContentTypeSchema = z.preprocess(
  (value) => (value === undefined ? 'application/json' : typeof value === 'string' ? value.split(';')[0]!.trim().toLowerCase() : value),
  z.literal('application/json', { message: 'must be application/json' }),
);

/**
 * Envelope attributes. Unknown attributes (CloudEvents extensions) are dropped, not rejected, so producers can
 * add them without breaking consumers; `data` is checked separately against the schema of `type`. `subject` may be
 * left out by other producers: it is then the message key, which is what the contract requires it to be.
 */
export const envelopeSchema = z.object({
  specversion: z.literal('1.0'),
  id: cloudEventIdSchema,
  source: z
    .string()
    .regex(/^\S+$/, 'must be a non-empty URI-reference')
    .max(contractLimits.sourceLengthMax)
    .refine(isStorableText, STORABLE_TEXT_MESSAGE),
  type: z.string().min(1).max(256),
  time: cloudEventTimeSchema,
  subject: z.string().min(1).max(contractLimits.subjectLengthMax).refine(isStorableText, STORABLE_TEXT_MESSAGE).optional(),
  datacontenttype: dataContentTypeSchema,
  data: z.unknown(),
});

const reasonIssuesMax = 10;

function toIssues(error: z.ZodError, prefix: readonly PropertyKey[] = []): ContractIssue[] {
  return error.issues.map((issue) => ({
    path: [...prefix, ...issue.path].map(String).join('.'),
    message: issue.message,
  }));
}

function failure(errors: ContractIssue[]): { ok: false; reason: string; errors: ContractIssue[] } {
  const shown = errors.slice(0, reasonIssuesMax).map((e) => `${e.path === '' ? '(event)' : e.path}: ${e.message}`);
  const more = errors.length > reasonIssuesMax ? `; (+${errors.length - reasonIssuesMax} more)` : '';
  return { ok: false, reason: shown.join('; ') + more, errors };
}

/** Validate any value against a contract schema, with issues in the same shape as `parseEvent`'s. */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown): ParseResult<z.output<S>> {
  const result = schema.safeParse(value);
  return result.success ? { ok: true, value: result.data } : failure(toIssues(result.error));
}

/**
 * What every consumer deduplicates events by: (`source`, `id`), as one string. Two producers may pick the same id;
 * one producer's ids are unique. The separator is a space, which a `source` cannot contain.
 */
export function eventIdentity(event: { source: string; id: string }): string {
  return `${event.source} ${event.id}`;
}

/**
 * The message key, which is also the CloudEvent `subject`: the accountId, except `model` for load samples,
 * `model|plan|priority` for limits, `accountId|userId` for reputation and the source topic for dead letters.
 */
export function messageKeyFor(event: KeyedEvent): string {
  switch (event.type) {
    case EVENTS.admissionDecided:
    case EVENTS.usageRequestCompleted:
    case EVENTS.creditsGranted:
    case EVENTS.creditsReserved:
    case EVENTS.reservationSettled:
    case EVENTS.reservationVoided:
    case EVENTS.reservationExpired:
    case EVENTS.grantExpired:
    case EVENTS.creditsAdjusted:
    case EVENTS.balanceChanged:
      return event.data.accountId;
    case EVENTS.loadSampled:
      return event.data.model;
    case EVENTS.limitsAdjusted:
      return `${event.data.model}|${event.data.plan}|${event.data.priority}`;
    case EVENTS.reputationChanged:
      return `${event.data.accountId}|${event.data.userId}`;
    case EVENTS.deadletterRecorded:
      return event.data.topic;
    default: {
      const _exhaustive: never = event;
      return _exhaustive;
    }
  }
}

/**
 * Validate an event: envelope, then `data` against the schema of its `type`, then that `subject` is the
 * message key. With `topic`, also that the topic carries this type. Never throws: consumers dead-letter the
 * `reason` and move on.
 */
export function parseEvent(json: unknown, options: { topic?: TopicName } = {}): ParseEventResult {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return failure([{ path: '', message: 'an event must be a JSON object' }]);
  }
  const envelope = envelopeSchema.safeParse(json);
  const errors: ContractIssue[] = envelope.success ? [] : toIssues(envelope.error);
  const type: unknown = (json as { type?: unknown }).type;
  const data: unknown = (json as { data?: unknown }).data;

  if (typeof type === 'string' && !isEventType(type)) {
    errors.push({ path: 'type', message: `unknown event type "${type}"; known: ${eventTypes.join(', ')}` });
  }
  if (typeof type !== 'string' || !isEventType(type)) return failure(errors);

  const parsedData = eventDataSchemas[type].safeParse(data);
  if (!parsedData.success) errors.push(...toIssues(parsedData.error, ['data']));
  if (!envelope.success || !parsedData.success) return failure(errors);

  // The pairing of `type` with its own schema's output is exactly what `AnyAccessEvent` states;
  // TypeScript cannot follow it through the indexed schema lookup.
  const event = { ...envelope.data, type, data: parsedData.data } as AnyAccessEvent;
  const key = messageKeyFor(event);
  event.subject ??= key;
  if (event.subject !== key) {
    return failure([{ path: 'subject', message: `must be the message key "${key}"` }]);
  }
  if (options.topic !== undefined && !topicSpec(options.topic).eventTypes.includes(event.type)) {
    return failure([{ path: 'type', message: `${event.type} is not carried by ${options.topic}` }]);
  }
  return { ok: true, event };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** `parseEvent` for a raw Kafka value or HTTP body: bytes or text of JSON. */
export function parseEventJson(raw: string | Uint8Array, options: { topic?: TopicName } = {}): ParseEventResult {
  let json: unknown;
  try {
    json = JSON.parse(typeof raw === 'string' ? raw : utf8.decode(raw));
  } catch (error) {
    return failure([{ path: '', message: `not UTF-8 JSON: ${error instanceof Error ? error.message : String(error)}` }]);
  }
  return parseEvent(json, options);
}

export type MakeEventFields<T extends EventType> = {
  id: string;
  source: string;
  time: string;
  /** Defaults to the message key, which is what the contract requires it to be. */
  subject?: string;
  data: EventData<T>;
};

/** A producer built an event that breaks its own contract: a bug to fix, never an outcome to handle. */
export class InvalidEventError extends Error {
  constructor(
    readonly type: string,
    readonly errors: ContractIssue[],
    reason: string,
  ) {
    super(`invalid ${type}: ${reason}`);
    this.name = 'InvalidEventError';
  }
}

/**
 * Build an event, validated exactly as consumers will validate it, so a contract breach fails in the producer's
 * tests instead of in a dead-letter topic. Unknown fields in `data` are dropped.
 */
export function makeEvent<T extends EventType>(type: T, fields: MakeEventFields<T>): AccessEvent<T> {
  // Consumers accept any CloudEvents id and any RFC 3339 time from other producers; this system's own events keep
  // the one form its consumers sort and store: UUIDv7 ids and UTC times with milliseconds.
  const own = z.object({ id: uuidv7Schema, time: isoTimeSchema }).safeParse({ id: fields.id, time: fields.time });
  if (!own.success) {
    const issues = toIssues(own.error);
    throw new InvalidEventError(type, issues, failure(issues).reason);
  }
  const hasData = typeof fields.data === 'object' && fields.data !== null;
  // Without data there is no key; parseEvent then reports the missing data rather than a TypeError here.
  const subject = fields.subject ?? (hasData ? messageKeyFor({ type, data: fields.data } as KeyedEvent) : '');
  const result = parseEvent({
    specversion: '1.0',
    id: fields.id,
    source: fields.source,
    type,
    time: fields.time,
    subject,
    datacontenttype: 'application/json',
    data: fields.data,
  });
  if (!result.ok) throw new InvalidEventError(type, result.errors, result.reason);
  return result.event as AccessEvent<T>;
}

/** A Kafka message for an event (kafkajs-shaped, primitives only); adapters add `traceparent`. */
export function toKafkaMessage(event: AnyAccessEvent): {
  key: string;
  value: string;
  headers: { 'content-type': string };
} {
  return {
    key: messageKeyFor(event),
    value: JSON.stringify(event),
    headers: { 'content-type': CLOUDEVENTS_CONTENT_TYPE },
  };
}
