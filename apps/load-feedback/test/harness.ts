/**
 * Test plumbing for load-feedback as a child process: topics of its own per run, starting and stopping
 * services, waiting for readiness, reading a topic, and reading the multiplier gauges.
 */
import { join } from 'node:path';
import { EVENTS, makeEvent, newEventId, parseEventJson, type AnyAccessEvent, type LoadSampledV1 } from '@access/contracts';
import type { LoadFeedbackTopics } from '@access/load-feedback-adapters';
import { EventProducer, KafkaAdmin, RawBatchConsumer, createKafka, encodeEvent, sleep, type Kafka, type TopicSpec } from '@access/platform-kafka';
import { testName, type Stack } from '@access/testing';

export { freePort, startService, waitReady, type Service } from '@access/testing';

export const repoRoot = join(__dirname, '..', '..', '..');

export interface FeedbackRun {
  topics: LoadFeedbackTopics;
  kafka: Kafka;
  admin: KafkaAdmin;
  producer: EventProducer;
  env(port: number): Record<string, string>;
  sample(model: string, utilization: number, capacityCreditsPerSecond?: number): Promise<void>;
  close(): Promise<void>;
}

export async function createFeedbackRun(stack: Stack, topics?: LoadFeedbackTopics): Promise<FeedbackRun> {
  const own = topics === undefined;
  const t: LoadFeedbackTopics = topics ?? {
    load: testName('load'),
    admissions: testName('adm'),
    usage: testName('usage'),
    limits: testName('lim'),
    reputation: testName('rep'),
    deadletter: testName('dlq'),
  };
  const kafka = createKafka({ brokers: stack.kafkaBrokers, clientId: 'load-feedback-test' });
  const admin = new KafkaAdmin(kafka);
  await admin.connect();
  if (own) {
    await ensureTopics(admin, [
      { name: t.load, partitions: 3, compacted: false },
      { name: t.admissions, partitions: 8, compacted: false },
      { name: t.usage, partitions: 8, compacted: false },
      { name: t.limits, partitions: 1, compacted: true },
      { name: t.reputation, partitions: 4, compacted: true },
      { name: t.deadletter, partitions: 1, compacted: false },
    ]);
  }
  const producer = new EventProducer(kafka, { lingerMs: 1 });
  await producer.connect();
  return {
    topics: t,
    kafka,
    admin,
    producer,
    env: (port) => ({
      KAFKA_BROKERS: stack.kafkaBrokers.join(','),
      DATABASE_URL: stack.databaseUrl,
      CLICKHOUSE_URL: stack.clickhouseUrl,
      LOAD_FEEDBACK_PORT: String(port),
      LOAD_FEEDBACK_TOPIC_LOAD: t.load,
      LOAD_FEEDBACK_TOPIC_ADMISSIONS: t.admissions,
      LOAD_FEEDBACK_TOPIC_LIMITS: t.limits,
      LOAD_FEEDBACK_TOPIC_REPUTATION: t.reputation,
      LOAD_FEEDBACK_TOPIC_DEADLETTER: t.deadletter,
      // The reputation job reads the shared ClickHouse database; these tests are about the controller.
      LOAD_FEEDBACK_REPUTATION_INTERVAL_MS: '0',
    }),
    sample: async (model, utilization, capacityCreditsPerSecond = 1_000) => {
      const now = new Date().toISOString();
      const data: LoadSampledV1 = { model, region: 'test-1', utilization, queueDepth: utilization >= 1 ? 500 : 0, p95LatencyMs: utilization >= 1 ? 30_000 : 800, capacityCreditsPerSecond };
      await producer.send(encodeEvent(makeEvent(EVENTS.loadSampled, { id: newEventId(), source: '/fleet/test', time: now, data }), t.load));
    },
    close: async () => {
      await producer.disconnect();
      if (own) await admin.deleteTopics(Object.values(t)).catch(() => undefined);
      await admin.disconnect();
    },
  };
}

/**
 * Creates topics, retrying: right after a create, the broker's metadata can still answer "does not host
 * this topic-partition" to kafkajs's wait for leaders (seen on a busy machine). Creating only what is
 * missing, a retry is harmless.
 */
export async function ensureTopics(admin: KafkaAdmin, topics: readonly TopicSpec[]): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await admin.ensureTopics(topics);
      return;
    } catch (error) {
      if (attempt >= 5) throw error;
      await sleep(200 * attempt);
    }
  }
}

/** Collects every event on a topic from its beginning, for assertions. */
export interface TopicWatch {
  readonly events: AnyAccessEvent[];
  /** Messages read, valid or not. */
  raw: number;
  stop(): Promise<void>;
}

export async function watchTopic(kafka: Kafka, topic: string): Promise<TopicWatch> {
  const consumer = new RawBatchConsumer(kafka, { groupId: testName('watch'), topics: [topic], fromBeginning: true, commitOffsets: false, maxWaitMs: 20 });
  const watch: TopicWatch = { events: [], raw: 0, stop: () => consumer.stop() };
  await consumer.start(async (messages) => {
    for (const m of messages) {
      watch.raw++;
      const parsed = m.value ? parseEventJson(m.value) : null;
      if (parsed?.ok) watch.events.push(parsed.event);
    }
  });
  return watch;
}


/** The `load_feedback_multiplier` gauges, keyed `model|plan|priority`. */
export async function multiplierGauges(port: number): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const out = new Map<string, number>();
  for (const match of text.matchAll(/^load_feedback_multiplier\{model="([^"]+)",plan="([^"]+)",priority="([^"]+)"[^}]*\} ([0-9.eE+-]+)$/gm)) {
    out.set(`${match[1]}|${match[2]}|${match[3]}`, Number(match[4]));
  }
  return out;
}

export async function eventually<T>(probe: () => Promise<T | undefined> | T | undefined, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(25);
  }
}

