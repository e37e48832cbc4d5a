import type { KafkaAdmin } from './kafka';

export interface PartitionLag {
  readonly group: string;
  readonly topic: string;
  readonly partition: number;
  /** Messages between the group's committed offset and the high watermark; everything in the log when it has none. */
  readonly lag: number;
}

/**
 * A consumer group's lag on each partition of `topics`. A partition the group has never committed counts
 * everything still in the log (from the low watermark), which is what the group has left to read.
 */
export async function consumerLag(admin: KafkaAdmin, group: string, topics: readonly string[]): Promise<PartitionLag[]> {
  const rows: PartitionLag[] = [];
  for (const topic of topics) {
    const [high, low, committed] = await Promise.all([admin.highWatermarks(topic), admin.lowWatermarks(topic), admin.committedOffsets(group, topic)]);
    for (const [partition, end] of high) {
      const offset = committed.get(partition) ?? -1n;
      const from = offset >= 0n ? offset : (low.get(partition) ?? 0n);
      rows.push({ group, topic, partition, lag: end > from ? Number(end - from) : 0 });
    }
  }
  return rows;
}
