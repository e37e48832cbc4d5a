/**
 * The batching, idempotent producer every service writes events with (transactional writes are in
 * transactional.ts).
 */
import type { Kafka, Producer } from 'kafkajs';
import type { OutgoingMessage } from './kafka';
import { kafkaLimits as L } from './limits';

export interface ProducerOptions {
  /** How long a message may wait for others to share its request (the linger). */
  lingerMs?: number;
  /** At most this many messages per request to the broker. */
  batchMessagesMax?: number;
}

/**
 * An idempotent producer (acks=all, one in-flight request per broker so that retries keep order) that batches
 * concurrent sends: `send` resolves when the broker has acknowledged the message, after at most `lingerMs`
 * of waiting for company. Per-key order is preserved because a batch is sent in call order.
 */
export class EventProducer {
  private readonly producer: Producer;
  private queue: { message: OutgoingMessage; resolve: () => void; reject: (e: unknown) => void }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> = Promise.resolve();
  private readonly lingerMs: number;
  private readonly batchMessagesMax: number;
  private connected = false;

  constructor(kafka: Kafka, options: ProducerOptions = {}) {
    this.lingerMs = options.lingerMs ?? L.producerLingerMs;
    this.batchMessagesMax = options.batchMessagesMax ?? L.producerBatchMessagesMax;
    this.producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  }

  async connect(): Promise<void> {
    await this.producer.connect();
    this.connected = true;
  }

  get isConnected(): boolean {
    return this.connected;
  }

  /** Sends one message; resolves once it is acknowledged by all in-sync replicas. */
  send(message: OutgoingMessage): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ message, resolve, reject });
      if (this.queue.length >= this.batchMessagesMax) this.flushSoon(0);
      else this.flushSoon(this.lingerMs);
    });
  }

  /** Sends many messages as one batch and resolves when all are acknowledged. */
  async sendMany(messages: readonly OutgoingMessage[]): Promise<void> {
    if (messages.length === 0) return;
    await Promise.all(messages.map((m) => this.send(m)));
  }

  private flushSoon(delayMs: number): void {
    if (this.timer && delayMs > 0) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.inFlight = this.inFlight.then(() => this.flush());
    }, delayMs);
  }

  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.batchMessagesMax);
      const byTopic = new Map<string, OutgoingMessage[]>();
      for (const { message } of batch) {
        const list = byTopic.get(message.topic) ?? [];
        list.push(message);
        byTopic.set(message.topic, list);
      }
      try {
        await this.producer.sendBatch({
          acks: -1,
          topicMessages: [...byTopic].map(([topic, messages]) => ({
            topic,
            messages: messages.map((m) => ({ key: m.key, value: m.value, headers: m.headers, partition: m.partition })),
          })),
        });
        for (const item of batch) item.resolve();
      } catch (error) {
        for (const item of batch) item.reject(error);
      }
    }
  }

  async disconnect(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.inFlight = this.inFlight.then(() => this.flush());
    }
    await this.inFlight;
    this.connected = false;
    await this.producer.disconnect();
  }
}
