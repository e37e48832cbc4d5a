import type { EventProducer, OutgoingMessage } from '@access/platform-kafka';

/**
 * Bytes of message values per produce request. The broker refuses a record batch above `message.max.bytes`
 * (1 MiB by default) and all of an account's messages share one partition, so a request is kept well below it.
 */
export const publishRequestBytesMax = 900 * 1024;

/**
 * Sends `messages` in order, in requests of at most `publishRequestBytesMax` bytes, each acknowledged
 * (acks=all) before the next is sent, so per-partition order is the array's order.
 */
export async function publishInOrder(producer: EventProducer, messages: readonly OutgoingMessage[], bytesMax = publishRequestBytesMax): Promise<void> {
  let chunk: OutgoingMessage[] = [];
  let bytes = 0;
  for (const message of messages) {
    const size = message.value.length + (message.key?.length ?? 0) + 64;
    if (chunk.length > 0 && bytes + size > bytesMax) {
      await producer.sendMany(chunk);
      chunk = [];
      bytes = 0;
    }
    chunk.push(message);
    bytes += size;
  }
  if (chunk.length > 0) await producer.sendMany(chunk);
}
