/**
 * The dead-letter topic, tailed into memory: the console lists what is there and redrives one on request.
 * A consumer group of its own per process that never commits, so every console sees the whole topic from its
 * beginning (dead letters are rare; at most `deadLettersKeptMax` are kept, the newest).
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { RawBatchConsumer, deadLetterOf, type DeadLetter, type Kafka, type KafkaAdmin } from '@access/platform-kafka';
import { consoleLimits } from './limits';

export class DeadLetterTail {
  private readonly letters: DeadLetter[] = [];
  private readonly byId = new Map<string, DeadLetter>();
  private readonly consumer: RawBatchConsumer;
  private readonly groupId = `console-${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  /** Messages on the topic that are not dead-letter records (counted, not kept). */
  unreadable = 0;

  constructor(
    kafka: Kafka,
    private readonly admin: KafkaAdmin,
    readonly topic: string,
  ) {
    this.consumer = new RawBatchConsumer(kafka, { groupId: this.groupId, topics: [topic], fromBeginning: true, commitOffsets: false, maxWaitMs: 200 });
  }

  get isRunning(): boolean {
    return this.consumer.isRunning;
  }

  async start(): Promise<void> {
    await this.consumer.start(async (messages) => {
      for (const m of messages) {
        const letter = deadLetterOf(m);
        if (letter === undefined) {
          this.unreadable += 1;
          continue;
        }
        if (this.byId.has(letter.id)) continue;
        this.letters.push(letter);
        this.byId.set(letter.id, letter);
        if (this.letters.length > consoleLimits.deadLettersKeptMax) this.byId.delete(this.letters.shift()!.id);
      }
    });
  }

  async stop(): Promise<void> {
    await this.consumer.stop();
    await this.admin.deleteGroups([this.groupId]).catch(() => undefined);
  }

  /** Newest first. */
  list(limit: number): DeadLetter[] {
    return this.letters.slice(-limit).reverse();
  }

  get(id: string): DeadLetter | undefined {
    return this.byId.get(id);
  }

  get size(): number {
    return this.letters.length;
  }

  /** Dead letters recorded in each of the last `hours` hours (epoch seconds of the hour's start). */
  perHour(nowMs: number, hours: number): { t: number[]; count: number[] } {
    const hourMs = 3_600_000;
    const first = Math.floor(nowMs / hourMs) * hourMs - (hours - 1) * hourMs;
    const count = new Array<number>(hours).fill(0);
    for (const l of this.letters) {
      const i = Math.floor((Date.parse(l.recordedAt) - first) / hourMs);
      if (i >= 0 && i < hours) count[i]! += 1;
    }
    return { t: count.map((_, i) => (first + i * hourMs) / 1000), count };
  }
}

/** A dead message's value as text for people: pretty JSON, UTF-8 text, or hex for bytes that are neither. */
export function decodeValue(valueBase64: string, charsMax: number): { encoding: 'json' | 'text' | 'hex'; text: string; truncated: boolean } {
  const bytes = Buffer.from(valueBase64, 'base64');
  const utf8 = bytes.toString('utf8');
  let encoding: 'json' | 'text' | 'hex';
  let text: string;
  if (Buffer.from(utf8, 'utf8').equals(bytes) && !/[\u0000-\u0008\u000e-\u001f]/.test(utf8)) {
    try {
      text = JSON.stringify(JSON.parse(utf8), null, 2);
      encoding = 'json';
    } catch {
      text = utf8;
      encoding = 'text';
    }
  } else {
    text = bytes.toString('hex');
    encoding = 'hex';
  }
  return { encoding, text: text.slice(0, charsMax), truncated: text.length > charsMax };
}
