import { describe, expect, it } from 'vitest';
import { parseEvent, type ParseEventResult } from './envelope';
import { type EventType, eventTypes } from './events';
import { goldenEventJson } from './fixtures';

/**
 * The golden fixtures are the contract by example. Every one must parse, and every way of breaking one must be
 * rejected with an error that names the broken field. The variants are generated from the fixtures themselves,
 * so a field added to a schema and its fixture is covered without touching this file.
 */

type Json = Record<string, unknown>;
type Path = readonly (string | number)[];

/** Records whose keys are free (meters, dimensions, numeric evidence): their entries are not required fields. */
const freeRecords = new Set(['meters', 'dimensions', 'inputs', 'signals']);

/** Every field path of an event, at any depth, excluding entries of free records. */
function fieldPaths(value: unknown, prefix: Path = []): Path[] {
  if (Array.isArray(value)) return value.flatMap((item, i) => fieldPaths(item, [...prefix, i]));
  if (typeof value !== 'object' || value === null) return [];
  const parentIsFree = freeRecords.has(String(prefix.at(-1)));
  return Object.entries(value).flatMap(([key, child]) =>
    parentIsFree ? [] : [[...prefix, key], ...fieldPaths(child, [...prefix, key])],
  );
}

/** Every leaf path, including entries of free records (each must still have the right type). */
function leafPaths(value: unknown, prefix: Path = []): Path[] {
  if (Array.isArray(value)) return value.flatMap((item, i) => leafPaths(item, [...prefix, i]));
  if (typeof value === 'object' && value !== null) {
    return Object.entries(value).flatMap(([key, child]) => leafPaths(child, [...prefix, key]));
  }
  return [prefix];
}

function edit(event: Json, path: Path, change: (parent: Record<string | number, unknown>, key: string | number) => void): Json {
  let parent = event as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>;
  change(parent, path.at(-1)!);
  return event;
}
const without = (event: Json, path: Path) => edit(event, path, (p, k) => void delete p[k]);
const withValue = (event: Json, path: Path, value: unknown) => edit(event, path, (p, k) => void (p[k] = value));

/**
 * Rejected, with an error at the field, below it, or at the object holding it (a union member missing its
 * discriminator is reported on the member, not on the discriminator).
 */
function expectRejected(result: ParseEventResult, path: Path): void {
  expect(result.ok).toBe(false);
  if (result.ok) return;
  expect(result.reason.length).toBeGreaterThan(0);
  const field = path.join('.');
  const memberOfList = typeof path.at(-2) === 'number' ? path.slice(0, -1).join('.') : undefined;
  const named = result.errors.some((e) => e.path === field || e.path.startsWith(`${field}.`) || e.path === memberOfList);
  expect(named, `errors ${JSON.stringify(result.errors)} should name ${field}`).toBe(true);
}

describe.each(eventTypes.map((type) => [type]))('golden %s', (type: EventType) => {
  const golden = () => goldenEventJson(type);

  it('given the golden fixture, then it parses to the same event', () => {
    const result = parseEvent(golden());
    expect(result).toEqual({ ok: true, event: golden() });
  });

  it('given an extra field anywhere, then it is ignored (forward compatible) and stripped', () => {
    const event = golden();
    const data = event['data'] as Json;
    const result = parseEvent({ ...event, traceparent: '00-abc-def-01', data: { ...data, addedInV1_1: 'x' } });
    expect(result).toEqual({ ok: true, event: golden() });
  });

  /** CloudEvents attributes a producer may leave out: the contract fills them in (the key, JSON). */
  const defaulted = new Set(['subject', 'datacontenttype']);
  it.each(fieldPaths(goldenEventJson(type)).filter((path) => !defaulted.has(path.join('.'))).map((path) => [path.join('.'), path]))(
    'given %s removed, then rejected naming it',
    (_name, path) => {
      expectRejected(parseEvent(without(golden(), path)), path);
    },
  );

  it.each(['subject', 'datacontenttype'])('given %s left out, then it parses with the contract value (the key, JSON)', (field) => {
    expect(parseEvent(without(golden(), [field]))).toEqual({ ok: true, event: golden() });
  });

  // No field of any event is a boolean, so `true` is the wrong type everywhere.
  it.each(leafPaths(goldenEventJson(type)).map((path) => [path.join('.'), path]))(
    'given %s with a wrong type, then rejected naming it',
    (_name, path) => {
      expectRejected(parseEvent(withValue(golden(), path, true)), path);
    },
  );
});

describe('envelope', () => {
  const golden = () => goldenEventJson('io.access.admission.decided.v1');

  it.each<[string, Path, unknown]>([
    ['unknown type', ['type'], 'io.access.admission.decided.v9'],
    ['type without prefix', ['type'], 'admission.decided'],
    ['specversion 0.3', ['specversion'], '0.3'],
    ['specversion as number', ['specversion'], 1.0],
    ['empty id', ['id'], ''],
    ['id of 129 characters', ['id'], 'a'.repeat(129)],
    ['id with a non-ASCII character', ['id'], 'évènement-1'],
    ['id with a control character', ['id'], 'id\n1'],
    ['source with U+0000', ['source'], '/fleet/\u0000'],
    ['subject with a lone surrogate', ['subject'], 'acct-7\ud800'],
    ['empty source', ['source'], ''],
    ['source with spaces', ['source'], 'access admission'],
    ['time without a zone', ['time'], '2026-11-25T10:00:00.000'],
    ['time not a date', ['time'], 'yesterday'],
    ['datacontenttype xml', ['datacontenttype'], 'application/xml'],
    ['subject not the key', ['subject'], 'acct-8'],
    ['data not an object', ['data'], 'hello'],
  ])('given %s, then rejected naming it', (_name, path, value) => {
    expectRejected(parseEvent(withValue(golden(), path, value)), path);
  });

  // Other producers: any CloudEvents id (consumers deduplicate by source and id), any RFC 3339 time.
  it.each<[string, Path, unknown, unknown]>([
    ['id as UUIDv4 (the CloudEvents SDKs)', ['id'], '550e8400-e29b-41d4-a716-446655440000', '550e8400-e29b-41d4-a716-446655440000'],
    ['id as ULID', ['id'], '01ARZ3NDEKTSV4RRFFQ69G5FAV', '01ARZ3NDEKTSV4RRFFQ69G5FAV'],
    ['id in uppercase', ['id'], '01A21225-DCE9-7D74-B0CF-C15A048C4809', '01A21225-DCE9-7D74-B0CF-C15A048C4809'],
    ['id of 128 printable characters', ['id'], '~'.repeat(128), '~'.repeat(128)],
    ['time without milliseconds', ['time'], '2026-11-25T10:00:00Z', '2026-11-25T10:00:00.000Z'],
    ['time with offset', ['time'], '2026-11-25T11:00:00.000+01:00', '2026-11-25T10:00:00.000Z'],
    ['time in nanoseconds', ['time'], '2026-11-25T10:00:00.123456789Z', '2026-11-25T10:00:00.123Z'],
    ['datacontenttype with a charset', ['datacontenttype'], 'application/json; charset=utf-8', 'application/json'],
  ])('given %s, then accepted in the system\'s form', (_name, path, value, expected) => {
    const result = parseEvent(withValue(golden(), path, value));
    expect(result).toEqual({ ok: true, event: withValue(golden(), path, expected) });
  });

  it('given an unknown type, then the reason says so and lists the known types', () => {
    const result = parseEvent(withValue(golden(), ['type'], 'io.access.thing.happened.v1'));
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.reason).toContain('unknown event type "io.access.thing.happened.v1"');
      expect(result.reason).toContain('io.access.admission.decided.v1');
    }
  });

  it.each([null, 'event', 42, [], undefined])('given %s instead of an object, then rejected', (value) => {
    expect(parseEvent(value).ok).toBe(false);
  });
});

describe('identifiers in data', () => {
  const golden = () => goldenEventJson('io.access.usage.request_completed.v1');

  it.each<[string, Path, unknown]>([
    ['accountId with a space', ['data', 'accountId'], 'acct 7'],
    ['accountId of 129 characters', ['data', 'accountId'], 'a'.repeat(129)],
    ['empty userId', ['data', 'userId'], ''],
    ['requestId with a slash', ['data', 'requestId'], 'req/42'],
    ['model with unicode', ['data', 'model'], 'sóra-2'],
    ['admissionId not a UUIDv7', ['data', 'admissionId'], 'adm-1'],
  ])('given %s, then rejected naming it', (_name, path, value) => {
    expectRejected(parseEvent(withValue(golden(), path, value)), path);
  });

  it('given an accountId of exactly 128 allowed characters, then accepted', () => {
    const id = 'A.b_c:d-9'.repeat(14).slice(0, 128);
    const event = withValue(withValue(golden(), ['data', 'accountId'], id), ['subject'], id);
    expect(parseEvent(event).ok).toBe(true);
  });
});

describe('credits that must not be negative', () => {
  const cases: [EventType, Path][] = [
    ['io.access.admission.decided.v1', ['data', 'estimatedCredits']],
    ['io.access.admission.decided.v1', ['data', 'heldCredits']],
    ['io.access.admission.decided.v1', ['data', 'fundedBy', 0, 'credits']], // allowance part
    ['io.access.admission.decided.v1', ['data', 'fundedBy', 1, 'credits']], // credits part
    ['io.access.ledger.credits_granted.v1', ['data', 'credits']],
    ['io.access.ledger.credits_reserved.v1', ['data', 'credits']],
    ['io.access.ledger.credits_reserved.v1', ['data', 'draws', 0, 'credits']],
    ['io.access.ledger.reservation_settled.v1', ['data', 'heldCredits']],
    ['io.access.ledger.reservation_settled.v1', ['data', 'actualCredits']],
    ['io.access.ledger.reservation_settled.v1', ['data', 'releasedCredits']],
    ['io.access.ledger.reservation_settled.v1', ['data', 'overshootCredits']],
    ['io.access.ledger.reservation_settled.v1', ['data', 'draws', 0, 'credits']],
    ['io.access.ledger.reservation_voided.v1', ['data', 'releasedCredits']],
    ['io.access.ledger.reservation_expired.v1', ['data', 'releasedCredits']],
    ['io.access.ledger.grant_expired.v1', ['data', 'forfeitedCredits']],
    ['io.access.ledger.balance_changed.v1', ['data', 'heldCredits']],
  ];

  it.each(cases)('given %s with %j = -1, then rejected naming it', (type, path) => {
    expectRejected(parseEvent(withValue(goldenEventJson(type), path, -1)), path);
  });

  it.each(cases)('given %s with %j = 1.5, then rejected naming it (credits are integers)', (type, path) => {
    expectRejected(parseEvent(withValue(goldenEventJson(type), path, 1.5)), path);
  });
});
