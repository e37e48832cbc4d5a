/**
 * Dead letters read back and redriven. A `deadletter.recorded` event keeps the dead message's topic, key and
 * value byte for byte (CONTRACTS.md); redriving it republishes exactly that key and value to that topic, for
 * the consumer to try again once whatever refused it is fixed. Consumers are idempotent by event id, so a
 * redrive of a message that was in fact applied changes nothing. The console's redrive and the SRE
 * command's `access deadletters redrive` both go through `redriveMessage`.
 */
import { CLOUDEVENTS_CONTENT_TYPE, EVENTS, parseEventJson, type DeadletterRecordedV1 } from '@access/contracts';
import type { ConsumedMessage, OutgoingMessage } from './kafka';

/** Where a dead-letter record itself sits: its id for operators is `topic/partition/offset`. */
export interface DeadLetterPosition {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
}

export interface DeadLetter {
  /** `<dead-letter topic>/<partition>/<offset>`: stable, and enough to find the record again. */
  readonly id: string;
  readonly position: DeadLetterPosition;
  /** When the record was written (its CloudEvent time). */
  readonly recordedAt: string;
  readonly data: DeadletterRecordedV1;
}

/** The header a redriven message carries, naming the dead-letter record it came from. */
export const REDRIVEN_FROM_HEADER = 'access-redriven-from';

export function deadLetterId(position: DeadLetterPosition): string {
  return `${position.topic}/${position.partition}/${position.offset}`;
}

/** A message read from a dead-letter topic as a DeadLetter, or undefined when it is not a valid record. */
export function deadLetterOf(message: ConsumedMessage): DeadLetter | undefined {
  if (message.value === null) return undefined;
  const parsed = parseEventJson(message.value);
  if (!parsed.ok || parsed.event.type !== EVENTS.deadletterRecorded) return undefined;
  const position = { topic: message.topic, partition: message.partition, offset: message.offset };
  return { id: deadLetterId(position), position, recordedAt: parsed.event.time, data: parsed.event.data };
}

/**
 * The message that redrives `letter`: the original key and value to the original topic. The record keeps no
 * headers, so the one this system's producers set is restored from the value: a structured CloudEvent gets
 * `content-type: application/cloudevents+json`. (A binary-mode CloudEvent's `ce_*` headers are not recorded
 * and cannot be restored; such a message is republished as its value alone.)
 */
export function redriveMessage(letter: DeadLetter): OutgoingMessage {
  const value = Buffer.from(letter.data.valueBase64, 'base64');
  const headers: Record<string, string> = { [REDRIVEN_FROM_HEADER]: letter.id };
  if (isStructuredCloudEvent(value)) headers['content-type'] = CLOUDEVENTS_CONTENT_TYPE;
  return { topic: letter.data.topic, key: letter.data.key, value, headers };
}

function isStructuredCloudEvent(value: Buffer): boolean {
  try {
    const json = JSON.parse(value.toString('utf8')) as unknown;
    return typeof json === 'object' && json !== null && (json as { specversion?: unknown }).specversion === '1.0';
  } catch {
    return false;
  }
}
