/**
 * The partition Kafka's default partitioner gives a key (murmur2, as the Java client and kafkajs compute it), so
 * that a process can tell, without asking Kafka, which partition of an account-keyed topic holds an account.
 */
import { Partitioners, type PartitionMetadata } from 'kafkajs';

const partitioner = Partitioners.DefaultPartitioner();
const metadataByCount = new Map<number, PartitionMetadata[]>();

function metadataOf(count: number): PartitionMetadata[] {
  let metadata = metadataByCount.get(count);
  if (metadata === undefined) {
    metadata = Array.from({ length: count }, (_, partitionId) => ({ partitionId, leader: 0, partitionErrorCode: 0, replicas: [0], isr: [0], offlineReplicas: [] }));
    metadataByCount.set(count, metadata);
  }
  return metadata;
}

/** The partition a message keyed `key` goes to in a topic of `count` partitions. */
export function partitionForKey(key: string, count: number): number {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`partition count must be a positive integer, got ${count}`);
  return partitioner({ topic: '', partitionMetadata: metadataOf(count), message: { key, value: null } });
}
