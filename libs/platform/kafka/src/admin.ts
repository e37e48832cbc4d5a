/**
 * Topic administration: creating topics with their shape, waiting for leaders, and reading offsets and
 * configuration (watermarks, offsets by time, a group's committed offsets).
 */
import type { Admin, Kafka } from 'kafkajs';
import { sleep } from './backoff';
import { kafkaLimits as L } from './limits';

export interface TopicSpec {
  name: string;
  partitions: number;
  compacted: boolean;
}

export class KafkaAdmin {
  private readonly admin: Admin;
  constructor(kafka: Kafka) {
    this.admin = kafka.admin();
  }
  connect(): Promise<void> {
    return this.admin.connect();
  }
  disconnect(): Promise<void> {
    return this.admin.disconnect();
  }
  /** Creates the topics that do not exist yet; returns the names it created. */
  async ensureTopics(topics: readonly TopicSpec[]): Promise<string[]> {
    const existing = new Set(await this.admin.listTopics());
    const missing = topics.filter((t) => !existing.has(t.name));
    if (missing.length === 0) return [];
    try {
      await this.admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((t) => ({
          topic: t.name,
          numPartitions: t.partitions,
          replicationFactor: 1,
          configEntries: t.compacted
            ? [
                { name: 'cleanup.policy', value: 'compact' },
                { name: 'min.cleanable.dirty.ratio', value: String(L.compactedMinCleanableDirtyRatio) },
                { name: 'segment.ms', value: String(L.compactedSegmentMs) },
              ]
            : [],
        })),
      });
    } catch (error) {
      // Waiting for leaders right after creation can fail with "This server does not host this topic-partition"
      // while the broker's metadata catches up; the topics were created, so wait for their leaders ourselves.
      const now = new Set(await this.admin.listTopics());
      if (!missing.every((t) => now.has(t.name))) throw error;
    }
    await this.waitForLeaders(missing.map((t) => t.name));
    return missing.map((t) => t.name);
  }
  /** Polls metadata until every partition of `names` has a leader (bounded: `leaderWaitMs`). */
  async waitForLeaders(names: string[], timeoutMs: number = L.leaderWaitMs): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const metadata = await this.admin.fetchTopicMetadata({ topics: names });
        if (metadata.topics.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0))) return;
      } catch (error) {
        if (Date.now() > deadline) throw error;
      }
      if (Date.now() > deadline) throw new Error(`topics without leaders after ${timeoutMs} ms: ${names.join(', ')}`);
      await sleep(L.leaderPollMs);
    }
  }
  async deleteTopics(names: string[]): Promise<void> {
    await this.admin.deleteTopics({ topics: names });
  }
  async describeCluster(): Promise<{ brokers: number; controller: number | null }> {
    const cluster = await this.admin.describeCluster();
    return { brokers: cluster.brokers.length, controller: cluster.controller };
  }
  async topicConfig(name: string): Promise<Record<string, string>> {
    const result = await this.admin.describeConfigs({ includeSynonyms: false, resources: [{ type: 2, name }] });
    const out: Record<string, string> = {};
    for (const entry of result.resources[0]?.configEntries ?? []) out[entry.configName] = entry.configValue;
    return out;
  }
  /** High watermarks (next offset to be written) per partition. */
  async highWatermarks(topic: string): Promise<Map<number, bigint>> {
    const offsets = await this.admin.fetchTopicOffsets(topic);
    return new Map(offsets.map((o) => [o.partition, BigInt(o.high)]));
  }
  /** Low watermarks (the earliest offset still in the log) per partition. */
  async lowWatermarks(topic: string): Promise<Map<number, bigint>> {
    const offsets = await this.admin.fetchTopicOffsets(topic);
    return new Map(offsets.map((o) => [o.partition, BigInt(o.low)]));
  }
  /**
   * Per partition, the offset of the first message with a timestamp at or after `timestampMs`, or the high
   * watermark when there is none (a reader starting there reads exactly the messages since that time).
   */
  async offsetsAtTime(topic: string, timestampMs: number): Promise<Map<number, bigint>> {
    const offsets = await this.admin.fetchTopicOffsetsByTimestamp(topic, timestampMs);
    return new Map(offsets.map((o) => [o.partition, BigInt(o.offset)]));
  }
  /** Deletes consumer groups (readers with a group per process remove theirs when they stop). */
  async deleteGroups(groupIds: string[]): Promise<void> {
    await this.admin.deleteGroups(groupIds);
  }
  /** Committed offsets of a consumer group, per partition (-1 when none). */
  async committedOffsets(groupId: string, topic: string): Promise<Map<number, bigint>> {
    const result = await this.admin.fetchOffsets({ groupId, topics: [topic] });
    return new Map((result[0]?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
  }
}
