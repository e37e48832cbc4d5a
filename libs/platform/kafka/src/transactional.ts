/**
 * A transactional producer for one writer role (admission: one per owned partition), used as a fence. Kafka keeps
 * one epoch per `transactional.id`: when another process initializes the same id, every later transaction of this
 * producer fails with a fencing error, and its open transaction is aborted. Consumers read committed messages only
 * (kafkajs's default isolation level), so nothing a fenced writer sends after that point is ever seen.
 *
 * Sends are grouped: concurrent `send` calls share one transaction (bounded by `batchMessagesMax`), and each
 * promise resolves when its transaction is committed, so "durable" means committed (acks=all).
 */
import type { Kafka, Producer } from 'kafkajs';
import type { OutgoingMessage } from './kafka';

export const transactionalLimits = {
  /** Messages per transaction at most. */
  batchMessagesMax: 2_000,
  /** The broker aborts a transaction left open this long (a writer paused mid-transaction). */
  transactionTimeoutMs: 10_000,
  /**
   * First retry of a send. A transaction that begins right after the previous commit is refused with
   * CONCURRENT_TRANSACTIONS until the coordinator has written the commit markers (a few milliseconds); kafkajs retries
   * it after the client's 100 ms, which every back-to-back transaction paid. Kafka's Java producer retries that error
   * after 20 ms; so does this one (doubling, up to `sendRetryMaxMs`).
   */
  sendRetryInitialMs: 20,
  sendRetryMaxMs: 1_000,
} as const;

/** This producer's transactional id was taken over by another writer: it can never write again. */
export class FencedError extends Error {
  readonly fenced = true;
  constructor(message: string) {
    super(message);
    this.name = 'FencedError';
  }
}

const FENCING_ERRORS = new Set(['INVALID_PRODUCER_EPOCH', 'PRODUCER_FENCED', 'INVALID_PRODUCER_ID_MAPPING', 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED']);

/** True for the errors Kafka answers a writer whose transactional id another writer has initialized since. */
export function isFencingError(error: unknown): boolean {
  if (error instanceof FencedError) return true;
  for (let e: unknown = error, depth = 0; e !== null && typeof e === 'object' && depth < 4; depth++) {
    const type = (e as { type?: unknown }).type;
    if (typeof type === 'string' && FENCING_ERRORS.has(type)) return true;
    e = (e as { originalError?: unknown; cause?: unknown }).originalError ?? (e as { cause?: unknown }).cause;
  }
  return false;
}

interface Pending {
  readonly message: OutgoingMessage;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

export class TransactionalProducer {
  private readonly producer: Producer;
  private queue: Pending[] = [];
  private flushing = false;
  private fencedBy: Error | null = null;
  /** A commit failed for another reason: kafkajs's transaction state may be stuck, so this producer is not used again. */
  private brokenBy: unknown = null;
  private connected = false;

  constructor(
    kafka: Kafka,
    readonly transactionalId: string,
  ) {
    this.producer = kafka.producer({
      transactionalId,
      idempotent: true,
      maxInFlightRequests: 1,
      transactionTimeout: transactionalLimits.transactionTimeoutMs,
      allowAutoTopicCreation: false,
      // kafkajs's idempotent producer retries without a bound (its default, kept); only the backoff is shorter.
      retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: transactionalLimits.sendRetryInitialMs, maxRetryTime: transactionalLimits.sendRetryMaxMs },
    });
  }

  /**
   * Initializes the transactional id: from here on, every earlier writer with the same id is fenced (its open
   * transaction is aborted by the broker). Resolves once Kafka has bumped the epoch.
   */
  async connect(): Promise<void> {
    await this.producer.connect();
    // kafkajs's connect() initializes an idempotent producer id only; the transactional id is initialized (InitProducerId
    // with the id: the epoch bump that fences) when the first transaction begins. Beginning and aborting an empty one
    // fences the previous writer now rather than at the first send (ownership.int.spec.ts shows the difference).
    const fence = await this.producer.transaction();
    await fence.abort();
    this.connected = true;
  }

  get isFenced(): boolean {
    return this.fencedBy !== null;
  }

  /** False once fenced or after a failed commit: the owner replaces it (a new one fences this one). */
  get isUsable(): boolean {
    return this.fencedBy === null && this.brokenBy === null;
  }

  /** Resolves when the message is committed; rejects with FencedError once another writer took the id over. */
  send(message: OutgoingMessage): Promise<void> {
    if (this.fencedBy !== null) return Promise.reject(this.fencedBy);
    if (this.brokenBy !== null) return Promise.reject(this.brokenBy);
    if (!this.connected) return Promise.reject(new Error(`transactional producer ${this.transactionalId} is not connected`));
    return new Promise((resolve, reject) => {
      this.queue.push({ message, resolve, reject });
      if (!this.flushing) {
        this.flushing = true;
        // One turn of the event loop lets the requests decided in the same tick share the transaction.
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, transactionalLimits.batchMessagesMax);
      const unusable = this.fencedBy ?? this.brokenBy;
      if (unusable !== null) {
        for (const item of batch) item.reject(unusable);
        continue;
      }
      try {
        await this.commit(batch.map((p) => p.message));
        for (const item of batch) item.resolve();
      } catch (error) {
        let failure: unknown = error;
        if (isFencingError(error)) failure = this.fence(error);
        else this.brokenBy = error;
        for (const item of batch) item.reject(failure);
      }
    }
    this.flushing = false;
  }

  private async commit(messages: OutgoingMessage[]): Promise<void> {
    const txn = await this.producer.transaction();
    try {
      const byTopic = new Map<string, OutgoingMessage[]>();
      for (const m of messages) byTopic.set(m.topic, [...(byTopic.get(m.topic) ?? []), m]);
      await txn.sendBatch({
        acks: -1,
        topicMessages: [...byTopic].map(([topic, list]) => ({
          topic,
          messages: list.map((m) => ({ key: m.key, value: m.value, headers: m.headers, partition: m.partition })),
        })),
      });
      await txn.commit();
    } catch (error) {
      // A fenced producer cannot abort either; anything else leaves a transaction to end before the next one.
      if (!isFencingError(error)) await txn.abort().catch(() => undefined);
      throw error;
    }
  }

  private fence(error: unknown): FencedError {
    if (this.fencedBy === null) {
      const detail = error instanceof Error ? error.message : String(error);
      this.fencedBy = new FencedError(`transactional id ${this.transactionalId} was taken over by another writer (${detail})`);
    }
    return this.fencedBy as FencedError;
  }

  /** Fails whatever is still queued and closes the connection (a fenced or released partition). */
  async disconnect(): Promise<void> {
    const reason = this.fencedBy ?? new FencedError(`transactional producer ${this.transactionalId} was released`);
    for (const item of this.queue.splice(0)) item.reject(reason);
    this.connected = false;
    await this.producer.disconnect().catch(() => undefined);
  }
}
