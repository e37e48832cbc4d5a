/**
 * Messages built by the official CloudEvents SDK for JavaScript (`cloudevents` on npm), as a producer nobody here
 * wrote would build them: its own ids (UUIDv4 by default) and times, structured or binary mode of the Kafka binding.
 * Interop tests publish these to show that any CloudEvents producer works.
 */
import { CloudEvent, Kafka } from 'cloudevents';
import { ulid } from 'ulid';

export type SdkMode = 'structured' | 'binary';

export interface SdkEvent {
  type: string;
  source: string;
  data: object;
  /** Defaults to the SDK's own (a UUIDv4). */
  id?: string;
  subject?: string;
  time?: string;
}

/** A kafkajs-shaped message (for `EventProducer.send` with a topic) of one event, encoded by the SDK. */
export function sdkKafkaMessage(event: SdkEvent, mode: SdkMode, key: string): { key: string; value: string; headers: Record<string, string> } {
  const cloudEvent = new CloudEvent({ ...event, datacontenttype: 'application/json' });
  const message = mode === 'structured' ? Kafka.structured(cloudEvent) : Kafka.binary(cloudEvent);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.headers)) if (value !== undefined) headers[name] = String(value);
  // In binary mode the SDK leaves `value` as the data object; a Kafka client sends bytes, here its JSON.
  const value = typeof message.value === 'string' ? message.value : JSON.stringify(message.value);
  return { key, value, headers };
}

/** The id the SDK gives an event when the producer gives none. */
export function sdkDefaultId(): string {
  return new CloudEvent({ type: 't', source: '/s' }).id;
}

/** A ULID, another id that CloudEvents producers use. */
export function newUlid(): string {
  return ulid();
}
