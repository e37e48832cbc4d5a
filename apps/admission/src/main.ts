/**
 * admission: the hot path. Decides, for every request to an expensive model, whether it may run now and
 * who pays. Wiring only: configuration and catalog (validated at boot), the Kafka producer (completions,
 * acks=all), the replica group and the transactional decision sink, the state reader (balances, limits,
 * reputation, and the restart replay of decisions, completions and ledger reservations), metrics, and the
 * HTTP API. See README.md.
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { AdmissionService, OwnershipTable, replayLookbackMs, type AdmissionServiceLimits } from '@access/admission-application';
import { ADMISSION_BODY_LIMIT_BYTES, AdmissionRouter, Forwarder, KafkaDecisionSink, ReplicaCoordinator, StateReader, type AdmissionTopics } from '@access/admission-adapters';
import type { Catalog } from '@access/catalog';
import { newEventId } from '@access/contracts';
import { bootService, type KafkaConnection, type ServiceBoot } from '@access/platform-bootstrap';
import { errorMessage, partitionForKey, type KafkaAdmin } from '@access/platform-kafka';
import { AdmissionAppModule } from './app.module';
import { admissionEnvSchema, limitsFromEnv, loadCatalog, topicsFromEnv, type AdmissionEnv } from './config';
import { admissionMetrics } from './metrics';
import { admissionOpenApi } from './openapi';

async function main(): Promise<void> {
  const boot = await bootService('admission', admissionEnvSchema);
  const { env, logger } = boot;
  const catalog = boot.configOrExit(`catalog in ${env.ACCESS_CONFIG_DIR}`, () => loadCatalog(env.ACCESS_CONFIG_DIR));
  const limits = boot.configOrExit('admission limits', () => limitsFromEnv(env));
  const topics = topicsFromEnv(env);
  const kafka = await boot.connectKafka({ producer: { lingerMs: env.ADMISSION_PRODUCER_LINGER_MS } });
  const partitions = await boot.startOrExit('the ownership table: no partitions of the admissions topic (npm run infra:up creates it)', () =>
    admissionPartitions(kafka.admin, topics.admissions),
  );
  const replicaId = `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  const advertisedUrl = env.ADMISSION_ADVERTISED_URL ?? `http://127.0.0.1:${env.ADMISSION_PORT}`;
  const lookbackMs = env.ADMISSION_REPLAY_LOOKBACK_MS ?? replayLookbackMs(catalog.plans);
  const { service, router, reader, replicas } = wire(boot, { catalog, limits, topics, kafka, partitions, replicaId, advertisedUrl, lookbackMs });

  boot.every('maintenance', limits.maintenanceIntervalMs, async () => {
    const t0 = performance.now();
    const dropped = service.maintain();
    logger.debug({ dropped, ms: Math.round(performance.now() - t0) }, 'maintenance');
  });
  await boot.serve(AdmissionAppModule.forRoot(service, router, boot.shell(admissionOpenApi())), { port: env.ADMISSION_PORT, bodyLimitBytes: ADMISSION_BODY_LIMIT_BYTES });
  await boot.startOrExit('reading state from Kafka (are the topics created? npm run infra:up)', () => reader.start());
  // Join the group only when warm: a replica that joins earlier would take partitions from warm owners and make their
  // accounts wait for its own replay.
  await reader.caughtUp;
  await boot.startOrExit(
    'the admission replica group membership (a broker older than this config? group.min.session.timeout.ms must allow ADMISSION_GROUP_SESSION_TIMEOUT_MS)',
    () => replicas.start(),
  );
  logger.info({ lookbackMs, replicaId, advertisedUrl, partitions }, 'ready');
}

interface Wiring {
  catalog: Catalog;
  limits: AdmissionServiceLimits;
  topics: AdmissionTopics;
  kafka: KafkaConnection;
  /** The partition count of the admissions topic. */
  partitions: number;
  replicaId: string;
  advertisedUrl: string;
  lookbackMs: number;
}

/**
 * Replicas (CONTRACTS.md, "Admission replicas"): this process decides for the partitions of access.admissions.v1 that
 * the replica group assigns it, forwards the rest to their owners, and writes decisions through its partitions' fences.
 * Shutdown runs last registered first: the group is left (which hands this replica's partitions over at once instead
 * of after a session timeout), then the forwarder closes, then the state reader stops, then Kafka disconnects.
 */
function wire(boot: ServiceBoot<AdmissionEnv>, w: Wiring) {
  const { env, logger } = boot;
  const { kafka, admin, producer } = w.kafka;
  const metrics = admissionMetrics(boot.metrics, logger);
  const table = new OwnershipTable(w.partitions, (accountId) => partitionForKey(accountId, w.partitions));
  // The sink writes through the coordinator's fences, the coordinator needs the reader, and the reader needs the
  // service the sink belongs to: the sink calls `replicas`, made below, only for partitions the group assigned, so
  // only once it exists.
  const sink = new KafkaDecisionSink(producer, w.topics, {
    replicaId: w.replicaId,
    partitionOf: (accountId) => table.partitionOfAccount(accountId),
    publish: (message, partition) => replicas.publish(message, partition),
  });
  const service = new AdmissionService({ catalog: w.catalog, sink, clock: { nowMs: () => Date.now() }, ids: { next: newEventId }, observer: metrics.service, ownership: table, limits: w.limits });
  metrics.state('admission_accounts', 'Accounts with state in memory', () => service.state.stats().accounts);
  metrics.state('admission_open_admissions', 'Admitted requests still tracked (slot or unreflected hold)', () => service.state.stats().openAdmissions);
  metrics.state('admission_idempotency_entries', 'requestIds remembered for idempotency', () => service.idempotencyEntries);
  metrics.state('admission_partitions_owned', 'Partitions of access.admissions.v1 this replica decides for', () => table.owned().length);
  const reader = new StateReader({
    kafka, admin, producer, service, topics: w.topics, lookbackMs: w.lookbackMs, groupId: `admission-state-${w.replicaId}`, replicaId: w.replicaId,
    nowMs: () => Date.now(), logger, onEvent: metrics.stateEvent, onBalanceFreshness: metrics.balanceFreshness,
  });
  boot.onStop('state reader', () => reader.stop().catch((error: unknown) => logger.warn({ err: errorMessage(error) }, 'stopping the state reader')));
  const forwarder = new Forwarder(w.replicaId);
  boot.onStop('forwarder', () => forwarder.close());
  const replicas: ReplicaCoordinator = new ReplicaCoordinator({
    kafka, admin, table, reader,
    admissionsTopic: w.topics.admissions,
    usageTopic: w.topics.usage,
    groupId: env.ADMISSION_GROUP_ID ?? `admission.owners.${w.topics.admissions}`,
    transactionalIdPrefix: `admission.${w.topics.admissions}`,
    member: { replicaId: w.replicaId, url: w.advertisedUrl },
    sessionTimeoutMs: env.ADMISSION_GROUP_SESSION_TIMEOUT_MS,
    heartbeatIntervalMs: env.ADMISSION_GROUP_HEARTBEAT_MS,
    logger,
    onAcquired: metrics.takeover,
  });
  boot.onStop('replica group', () => replicas.stop().catch((error: unknown) => logger.warn({ err: errorMessage(error) }, 'leaving the replica group')));
  const router = new AdmissionRouter(table, replicas, forwarder, env.ADMISSION_ROUTE_DEADLINE_MS, metrics.forwarded);
  boot.ready('kafka', () => producer.isConnected && reader.isRunning);
  boot.ready('state', () => reader.isCaughtUp && service.isReady);
  boot.ready('replicas', () => replicas.hasJoined);
  return { service, router, reader, replicas };
}

/** The partition count of the admissions topic: accounts map to partitions by it, and it must not change under us. */
async function admissionPartitions(admin: KafkaAdmin, topic: string): Promise<number> {
  const count = (await admin.highWatermarks(topic)).size;
  if (count === 0) throw new Error(`topic ${topic} has no partitions`);
  return count;
}

void main();
