/**
 * Test and benchmark plumbing for admission as a child process: topics of its own per run, a token with
 * admission:decide, starting (and SIGKILLing) the service, waiting for readiness, and calling it.
 */
import { join } from 'node:path';
import { EVENTS, SOURCES, makeEvent, newEventId } from '@access/contracts';
import { TokenStore } from '@access/platform-auth';
import { EventProducer, KafkaAdmin, createKafka, encodeEvent, type Kafka } from '@access/platform-kafka';
import { createDataSource, type DataSource } from '@access/platform-postgres';
import { startService, testName, type Service, type Stack } from '@access/testing';

export { startService, waitReady, type Service } from '@access/testing';
import type { AdmissionTopics } from '@access/admission-adapters';

export const repoRoot = join(__dirname, '..', '..', '..');

export interface AdmissionRun {
  stack: Stack;
  topics: AdmissionTopics;
  kafka: Kafka;
  admin: KafkaAdmin;
  producer: EventProducer;
  db: DataSource;
  token: string;
  /** Environment for an admission process of this run (its own topics). */
  env(port: number): Record<string, string>;
  /** Publishes a ledger balance for an account (what credit-ledger would). */
  balance(accountId: string, plan: string, availableCredits: number, version: number): Promise<void>;
  close(): Promise<void>;
}

export async function createRun(stack: Stack, options: { ownTopics?: boolean } = {}): Promise<AdmissionRun> {
  const own = options.ownTopics ?? true;
  const topics: AdmissionTopics = own
    ? { admissions: testName('adm'), usage: testName('usage'), ledger: testName('ledger'), balances: testName('bal'), limits: testName('lim'), reputation: testName('rep'), deadletter: testName('dlq') }
    : (await import('@access/admission-adapters')).DEFAULT_ADMISSION_TOPICS;
  const kafka = createKafka({ brokers: stack.kafkaBrokers, clientId: 'admission-test' });
  const admin = new KafkaAdmin(kafka);
  await admin.connect();
  if (own) {
    await admin.ensureTopics([
      { name: topics.admissions, partitions: 8, compacted: false }, { name: topics.usage, partitions: 8, compacted: false },
      { name: topics.ledger, partitions: 8, compacted: false }, { name: topics.balances, partitions: 8, compacted: true },
      { name: topics.limits, partitions: 1, compacted: true }, { name: topics.reputation, partitions: 4, compacted: true },
      { name: topics.deadletter, partitions: 1, compacted: false },
    ]);
  }
  const producer = new EventProducer(kafka, { lingerMs: 1 });
  await producer.connect();
  const db = createDataSource({ url: stack.databaseUrl });
  await db.initialize();
  const { token } = await new TokenStore(db).create(testName('admission-test'), ['admission:decide']);
  return {
    stack, topics, kafka, admin, producer, db, token,
    env: (port) => ({
      KAFKA_BROKERS: stack.kafkaBrokers.join(','),
      DATABASE_URL: stack.databaseUrl,
      ADMISSION_PORT: String(port),
      ADMISSION_TOPIC_ADMISSIONS: topics.admissions,
      ADMISSION_TOPIC_USAGE: topics.usage,
      ADMISSION_TOPIC_LEDGER: topics.ledger,
      ADMISSION_TOPIC_BALANCES: topics.balances,
      ADMISSION_TOPIC_LIMITS: topics.limits,
      ADMISSION_TOPIC_REPUTATION: topics.reputation,
      ADMISSION_TOPIC_DEADLETTER: topics.deadletter,
      TOKEN_REFRESH_MS: '500',
    }),
    balance: async (accountId, plan, availableCredits, version) => {
      const now = new Date().toISOString();
      const event = makeEvent(EVENTS.balanceChanged, {
        id: newEventId(), source: SOURCES.creditLedger, time: now,
        data: { accountId, version, balanceCredits: availableCredits, heldCredits: 0, availableCredits, plan, occurredAt: now },
      });
      await producer.send(encodeEvent(event, topics.balances));
    },
    close: async () => {
      await producer.disconnect();
      if (own) await admin.deleteTopics(Object.values(topics)).catch(() => undefined);
      await admin.disconnect();
      await db.destroy();
    },
  };
}

export function startAdmission(run: AdmissionRun, port: number, extraEnv: Record<string, string> = {}): Service {
  return startService('apps/admission/src/main.ts', { ...run.env(port), ...extraEnv }, port);
}


export function randomPort(): number {
  return 20_000 + Math.floor(Math.random() * 20_000);
}

export interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

export async function post(port: number, path: string, token: string, body: unknown): Promise<Answer> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: r.status, headers: r.headers, body: (await r.json()) as Record<string, unknown> };
}

let n = 0;
export function videoRequest(accountId: string, seconds: number, extra: Record<string, unknown> = {}) {
  return {
    requestId: `req-${process.pid}-${Date.now()}-${++n}`,
    accountId,
    userId: 'u-1',
    model: 'sora-2',
    endpoint: 'video.generate',
    priority: 'standard',
    estimate: { meters: { video_seconds: seconds }, dimensions: { resolution: '720p' } },
    ...extra,
  };
}

export function completion(answer: Answer, request: ReturnType<typeof videoRequest>, seconds: number, status = 'succeeded') {
  const now = new Date().toISOString();
  return {
    admissionId: answer.body.admissionId, requestId: request.requestId, accountId: request.accountId, userId: request.userId,
    model: request.model, endpoint: request.endpoint, status, meters: { video_seconds: seconds }, dimensions: request.estimate.dimensions,
    gpuSeconds: seconds * 3, durationMs: 1_000, startedAt: now, endedAt: now,
  };
}
