/**
 * admission: the hot path. Decides, for every request to an expensive model, whether it may run now and
 * who pays. Wiring only: configuration and catalog (validated at boot), the Kafka producer (decisions,
 * acks=all), the state reader (balances, limits, reputation, and the restart replay of decisions,
 * completions and ledger reservations), metrics, and the HTTP API. See README.md.
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { AdmissionService, OwnershipTable, replayLookbackMs, type ServiceObserver } from '@access/admission-application';
import { ADMISSION_BODY_LIMIT_BYTES, AdmissionRouter, Forwarder, KafkaDecisionSink, ReplicaCoordinator, StateReader } from '@access/admission-adapters';
import { newEventId } from '@access/contracts';
import { kafkaBrokers } from '@access/platform-config';
import { createRuntime, serve } from '@access/platform-http';
import { connectKafkaOrExit, errorMessage, partitionForKey } from '@access/platform-kafka';
import { Counter, Gauge, Histogram } from '@access/platform-observability';
import { AdmissionAppModule } from './app.module';
import { admissionEnvSchema, limitsFromEnv, loadCatalog, topicsFromEnv } from './config';
import { admissionOpenApi } from './openapi';

async function main(): Promise<void> {
  const rt = await createRuntime('admission', admissionEnvSchema);
  const { env, logger, metrics } = rt;
  const catalog = loadCatalog(env.ACCESS_CONFIG_DIR);
  if (!catalog.ok) {
    process.stderr.write(`Invalid catalog in ${env.ACCESS_CONFIG_DIR}:\n  ${catalog.problems.join('\n  ')}\n`);
    process.exit(1);
  }
  const { limits, problems } = limitsFromEnv(env);
  if (problems.length > 0) {
    process.stderr.write(`Invalid admission limits:\n  ${problems.join('\n  ')}\n`);
    process.exit(1);
  }
  const topics = topicsFromEnv(env);

  const decisions = new Counter({ name: 'admission_decisions_total', help: 'Decisions made, by outcome and reason', labelNames: ['decision', 'reason'], registers: [metrics] });
  const publishFailures = new Counter({ name: 'admission_publish_failures_total', help: 'Decisions Kafka did not acknowledge', labelNames: ['decision'], registers: [metrics] });
  const stateEvents = new Counter({ name: 'admission_state_events_total', help: 'Events read into state, by type (poison included)', labelNames: ['type'], registers: [metrics] });
  const evicted = new Counter({ name: 'admission_idempotency_evicted_total', help: 'requestIds forgotten before their 24 h because the cache was full', registers: [metrics] });
  const unpriced = new Counter({ name: 'admission_completions_unpriced_total', help: 'Completions the price book could not price (allowance kept as used)', registers: [metrics] });
  // Fine buckets around the 100 ms goal, so that p50 and p99 can be interpolated from them (npm start, bench/freshness).
  const balanceFreshness = new Histogram({
    name: 'admission_balance_freshness_seconds',
    help: 'Time from the publication of the message that changed a balance (typically a completion) to admission applying the new balance',
    buckets: [0.005, 0.01, 0.02, 0.03, 0.04, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2, 5, 10],
    registers: [metrics],
  });
  const observer: ServiceObserver = {
    decided: (decision, reason) => decisions.inc({ decision, reason: reason ?? 'none' }),
    rejectedPublishFailed: (error) => {
      publishFailures.inc({ decision: 'rejected' });
      logger.warn({ err: errorMessage(error) }, 'a rejected decision was not published');
    },
    admittedPublishFailed: (error) => {
      publishFailures.inc({ decision: 'admitted' });
      logger.error({ err: errorMessage(error) }, 'an admitted decision could not be made durable; undone and answered 503');
    },
    idempotencyEvicted: (count) => evicted.inc(count),
    completionUnpriced: (admissionId, reason) => {
      unpriced.inc();
      logger.warn({ admissionId, reason }, 'completion could not be priced');
    },
  };

  const { kafka, admin, producer } = await connectKafkaOrExit({
    brokers: kafkaBrokers(env),
    clientId: 'admission',
    logger,
    producer: { lingerMs: env.ADMISSION_PRODUCER_LINGER_MS },
  });

  // Replicas (CONTRACTS.md, "Admission replicas"): this process decides for the partitions of access.admissions.v1 that
  // the replica group assigns it, forwards the rest to their owners, and writes decisions through its partitions' fences.
  const replicaId = `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  const advertisedUrl = env.ADMISSION_ADVERTISED_URL ?? `http://127.0.0.1:${env.ADMISSION_PORT}`;
  const partitions = await admissionPartitions(admin, topics.admissions, logger);
  const table = new OwnershipTable(partitions, (accountId) => partitionForKey(accountId, partitions));
  let coordinator: ReplicaCoordinator | null = null;
  const sink = new KafkaDecisionSink(producer, topics, {
    replicaId,
    partitionOf: (accountId) => table.partitionOfAccount(accountId),
    publish: (message, partition) => (coordinator as ReplicaCoordinator).publish(message, partition),
  });
  const service = new AdmissionService({
    catalog: catalog.catalog,
    sink,
    clock: { nowMs: () => Date.now() },
    ids: { next: newEventId },
    observer,
    ownership: table,
    limits,
  });
  const stateGauge = (name: string, help: string, read: () => number) =>
    new Gauge({ name, help, registers: [metrics], collect() { this.set(read()); } });
  stateGauge('admission_accounts', 'Accounts with state in memory', () => service.state.stats().accounts);
  stateGauge('admission_open_admissions', 'Admitted requests still tracked (slot or unreflected hold)', () => service.state.stats().openAdmissions);
  stateGauge('admission_idempotency_entries', 'requestIds remembered for idempotency', () => service.idempotencyEntries);

  const lookbackMs = env.ADMISSION_REPLAY_LOOKBACK_MS ?? replayLookbackMs(catalog.catalog.plans);
  const reader = new StateReader({
    kafka,
    admin,
    producer,
    service,
    topics,
    lookbackMs,
    groupId: `admission-state-${replicaId}`,
    replicaId,
    nowMs: () => Date.now(),
    logger,
    onEvent: (type) => stateEvents.inc({ type }),
    // Not clamped at 0: a negative figure means the completion's producer has a clock ahead of this one, which should show.
    onBalanceFreshness: (ms) => balanceFreshness.observe(ms / 1000),
  });
  const takeover = new Histogram({
    name: 'admission_partition_takeover_seconds',
    help: 'From a partition being assigned to this replica to deciding for it: fencing the previous owner and applying its last decisions',
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
    registers: [metrics],
  });
  const forwards = new Counter({ name: 'admission_forwards_total', help: 'Requests forwarded to the replica that owns the account, by outcome', labelNames: ['outcome'], registers: [metrics] });
  stateGauge('admission_partitions_owned', 'Partitions of access.admissions.v1 this replica decides for', () => table.owned().length);
  coordinator = new ReplicaCoordinator({
    kafka,
    admin,
    table,
    reader,
    admissionsTopic: topics.admissions,
    usageTopic: topics.usage,
    groupId: env.ADMISSION_GROUP_ID ?? `admission.owners.${topics.admissions}`,
    transactionalIdPrefix: `admission.${topics.admissions}`,
    member: { replicaId, url: advertisedUrl },
    sessionTimeoutMs: env.ADMISSION_GROUP_SESSION_TIMEOUT_MS,
    heartbeatIntervalMs: env.ADMISSION_GROUP_HEARTBEAT_MS,
    logger,
    onAcquired: (_partition, ms) => takeover.observe(ms / 1000),
  });
  const replicas = coordinator;
  const forwarder = new Forwarder(replicaId);
  const router = new AdmissionRouter(table, replicas, forwarder, env.ADMISSION_ROUTE_DEADLINE_MS, (outcome) => forwards.inc({ outcome }));
  rt.readiness.add({ name: 'kafka', check: () => producer.isConnected && reader.isRunning });
  rt.readiness.add({ name: 'state', check: () => reader.isCaughtUp && service.isReady });
  rt.readiness.add({ name: 'replicas', check: () => replicas.hasJoined });

  const maintenance = setInterval(() => {
    const t0 = performance.now();
    const dropped = service.maintain();
    logger.debug({ dropped, ms: Math.round(performance.now() - t0) }, 'maintenance');
  }, limits.maintenanceIntervalMs);
  maintenance.unref();

  await serve(AdmissionAppModule.forRoot(service, router, rt.shell(admissionOpenApi())), {
    name: 'admission',
    port: env.ADMISSION_PORT,
    logger,
    bodyLimitBytes: ADMISSION_BODY_LIMIT_BYTES,
    onShutdown: async () => {
      clearInterval(maintenance);
      // Leaving the group hands this replica's partitions over at once instead of after a session timeout.
      await replicas.stop().catch((error: unknown) => logger.warn({ err: errorMessage(error) }, 'leaving the replica group'));
      await forwarder.close();
      await reader.stop().catch((error: unknown) => logger.warn({ err: errorMessage(error) }, 'stopping the state reader'));
      await producer.disconnect();
      await admin.disconnect();
      await rt.close();
    },
  });
  try {
    await reader.start();
  } catch (error) {
    logger.fatal({ err: errorMessage(error) }, 'cannot read state from Kafka (are the topics created? npm run infra:up)');
    process.exit(1);
  }
  // Join the group only when warm: a replica that joins earlier would take partitions from warm owners and make their
  // accounts wait for its own replay.
  await reader.caughtUp;
  try {
    await replicas.start();
  } catch (error) {
    logger.fatal({ err: errorMessage(error) }, 'cannot join the admission replica group (a broker older than this config? group.min.session.timeout.ms must allow ADMISSION_GROUP_SESSION_TIMEOUT_MS)');
    process.exit(1);
  }
  logger.info({ lookbackMs, replicaId, advertisedUrl, partitions }, 'ready');
}

/** The partition count of the admissions topic: accounts map to partitions by it, and it must not change under us. */
async function admissionPartitions(admin: { highWatermarks(topic: string): Promise<Map<number, bigint>> }, topic: string, logger: { fatal(extra: object, message: string): void }): Promise<number> {
  try {
    const count = (await admin.highWatermarks(topic)).size;
    if (count > 0) return count;
    throw new Error(`topic ${topic} has no partitions`);
  } catch (error) {
    logger.fatal({ err: errorMessage(error), topic }, 'cannot read the partitions of the admissions topic (npm run infra:up creates it)');
    process.exit(1);
  }
}

void main();
