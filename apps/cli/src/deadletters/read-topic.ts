/**
 * Reads a topic from its earliest message to where it ended when the read began, then stops: a consumer group of
 * its own (deleted afterwards) that commits nothing, bounded by a message count and a time.
 */
import { randomUUID } from 'node:crypto';
import { KafkaAdmin, RawBatchConsumer, type ConsumedMessage, type Kafka } from '@access/platform-kafka';

export const readTopicLimits = {
  /** Dead-letter topics are small; an operator who needs more narrows the search. */
  messagesMax: 200_000,
  readMsMax: 120_000,
} as const;

export async function readWholeTopic(kafka: Kafka, topic: string, onMessage: (message: ConsumedMessage) => void): Promise<{ messages: number; complete: boolean }> {
  const admin = new KafkaAdmin(kafka);
  await admin.connect();
  let ends: Map<number, bigint>;
  let starts: Map<number, bigint>;
  try {
    [ends, starts] = await Promise.all([admin.highWatermarks(topic), admin.lowWatermarks(topic)]);
  } catch (error) {
    await admin.disconnect();
    throw error;
  }
  const pending = new Set([...ends].filter(([partition, end]) => end > (starts.get(partition) ?? 0n)).map(([partition]) => partition));
  if (pending.size === 0) {
    await admin.disconnect();
    return { messages: 0, complete: true };
  }
  const groupId = `access-cli-read-${randomUUID()}`;
  const consumer = new RawBatchConsumer(kafka, { groupId, topics: [topic], fromBeginning: true, commitOffsets: false, maxWaitMs: 200 });
  let messages = 0;
  let complete = false;
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, readTopicLimits.readMsMax);
      const finish = () => {
        clearTimeout(timer);
        resolve();
      };
      consumer
        .start(async (batch) => {
          for (const message of batch) {
            const end = ends.get(message.partition) ?? 0n;
            if (BigInt(message.offset) >= end) continue;
            if (messages >= readTopicLimits.messagesMax) return finish();
            messages += 1;
            onMessage(message);
            if (BigInt(message.offset) >= end - 1n) pending.delete(message.partition);
          }
          if (pending.size === 0) {
            complete = true;
            finish();
          }
        })
        .catch(reject);
    });
  } finally {
    await consumer.stop().catch(() => undefined);
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
  }
  return { messages, complete };
}
