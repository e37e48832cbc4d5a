import type { AnyAccessEvent } from '@access/contracts';
import { decodeEvent, RawBatchConsumer, type ConsumedMessage, type Kafka, type KafkaAdmin } from '@access/platform-kafka';
import { adapterLimits } from '../limits';

export interface CompactedReadOptions {
  readonly kafka: Kafka;
  readonly admin: KafkaAdmin;
  readonly topic: string;
  /** A group of its own: the reader never commits, and deletes the group when done. */
  readonly groupId: string;
  readonly timeoutMs?: number;
  readonly eventsMax?: number;
  /** Called for a message that is not a valid event (it is skipped: the newest valid one per key wins). */
  readonly onPoison?: (message: ConsumedMessage, reason: string) => void;
}

export class RestoreTimeoutError extends Error {
  override readonly name = 'RestoreTimeoutError';
}

/**
 * Reads a compacted topic from its beginning to the high watermarks it had when the read started, and
 * returns the newest valid event per message key (a tombstone removes the key). This is how
 * load-feedback resumes: the multipliers and factors it published last are what admission has.
 */
export async function readCompactedTopic(options: CompactedReadOptions): Promise<Map<string, AnyAccessEvent>> {
  const { admin, topic } = options;
  const [low, high] = await Promise.all([admin.lowWatermarks(topic), admin.highWatermarks(topic)]);
  const pending = new Map<number, bigint>();
  for (const [partition, end] of high) if (end > (low.get(partition) ?? 0n)) pending.set(partition, end);
  const latest = new Map<string, AnyAccessEvent>();
  if (pending.size === 0) return latest;

  const eventsMax = options.eventsMax ?? adapterLimits.compactedEventsMax;
  let read = 0;
  const consumer = new RawBatchConsumer(options.kafka, { groupId: options.groupId, topics: [topic], fromBeginning: true, commitOffsets: false, maxWaitMs: 50 });
  let done: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (done = resolve));
  await consumer.start(async (messages) => {
    for (const message of messages) {
      const end = pending.get(message.partition);
      // Past the start's high watermark is news, not history: the caller reads that live if it wants.
      if (end === undefined || BigInt(message.offset) >= end) continue;
      read++;
      if (message.key !== null && (message.value === null || message.value.length === 0)) {
        latest.delete(message.key);
      } else if (message.value !== null) {
        const parsed = decodeEvent(message);
        if (parsed.ok) {
          // Deleted and re-inserted so that iteration order is the order of the newest events; a key
          // beyond eventsMax is refused, a known key is always updated.
          const known = latest.delete(parsed.event.subject);
          if (known || latest.size < eventsMax) latest.set(parsed.event.subject, parsed.event);
        } else {
          options.onPoison?.(message, parsed.reason);
        }
      }
      if (BigInt(message.offset) + 1n >= end) pending.delete(message.partition);
    }
    if (pending.size === 0 || read >= eventsMax) done();
  });
  const timeoutMs = options.timeoutMs ?? adapterLimits.restoreTimeoutMs;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RestoreTimeoutError(`${topic} not read to its end within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([finished, timeout]);
  } finally {
    clearTimeout(timer);
    await consumer.stop().catch(() => undefined);
    await admin.deleteGroups([options.groupId]).catch(() => undefined);
  }
  return latest;
}
