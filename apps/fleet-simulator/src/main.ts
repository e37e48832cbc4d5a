/**
 * fleet-simulator: a model-serving fleet on this machine, so that the load-feedback loop closes
 * without GPUs. It reads what admission lets through (access.admissions.v1) and what completes
 * (access.usage.v1), runs the domain's FleetModel, and publishes `load.sampled` to access.load.v1
 * every FLEET_TICK_MS. Run: `npx tsx apps/fleet-simulator/src/main.ts` (see config.ts for the env).
 */
import { randomUUID } from 'node:crypto';
import { EVENTS, makeEvent, newEventId } from '@access/contracts';
import { FleetSimulator } from '@access/load-feedback-adapters';
import { kafkaBrokers, loadEnvOrExit } from '@access/platform-config';
import { EventConsumer, EventPublisher, connectKafkaOrExit, errorMessage } from '@access/platform-kafka';
import { createLogger } from '@access/platform-observability';
import { fleetEnvSchema, fleetsFromEnv } from './config';

const source = '/fleet/simulator';

async function main(): Promise<void> {
  const env = loadEnvOrExit(fleetEnvSchema);
  const logger = createLogger('fleet-simulator', env.LOG_LEVEL);
  const fleets = fleetsFromEnv(env);
  const simulator = new FleetSimulator(fleets, Date.now());
  const { kafka, admin, producer } = await connectKafkaOrExit({ brokers: kafkaBrokers(env), clientId: 'fleet-simulator', logger });
  const publisher = new EventPublisher(producer);
  const groupId = `fleet-simulator-${process.pid}-${randomUUID().slice(0, 8)}`;
  // Live traffic only: a fleet serves what is admitted from now on, not history.
  const consumer = new EventConsumer(kafka, producer, {
    groupId,
    topics: [env.FLEET_TOPIC_ADMISSIONS, env.FLEET_TOPIC_USAGE],
    fromBeginning: false,
    commitOffsets: false,
    maxWaitMs: 50,
    consumerName: 'fleet-simulator',
    source,
    deadLetterTopic: env.FLEET_TOPIC_DEADLETTER,
  });
  await consumer.start(async (events) => {
    for (const { event } of events) {
      if (event.type === EVENTS.admissionDecided) simulator.onDecision(event.id, event.data);
      else if (event.type === EVENTS.usageRequestCompleted) simulator.onCompleted(event.data);
    }
  });

  let stopping = false;
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> = Promise.resolve();
  const tick = async () => {
    const nowMs = Date.now();
    const samples = simulator.tick(nowMs);
    const time = new Date(nowMs).toISOString();
    try {
      await publisher.publishMany(
        samples.map((data) => ({ topic: env.FLEET_TOPIC_LOAD, event: makeEvent(EVENTS.loadSampled, { id: newEventId(), source: `${source}/${data.region}`, time, data }) })),
      );
      logger.debug({ samples: samples.map((s) => ({ model: s.model, utilization: s.utilization, queueDepth: s.queueDepth })), inFlight: Object.fromEntries(simulator.inFlightByModel()) }, 'sampled');
    } catch (error) {
      logger.warn({ err: errorMessage(error) }, 'publishing load samples failed');
    }
  };
  const schedule = () => {
    if (stopping) return;
    timer = setTimeout(() => {
      inFlight = tick().finally(schedule);
    }, env.FLEET_TICK_MS);
  };
  schedule();
  logger.info({ fleets, tickMs: env.FLEET_TICK_MS, load: env.FLEET_TOPIC_LOAD }, 'fleet simulator running');

  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'fleet simulator shutting down');
    clearTimeout(timer);
    await inFlight.catch(() => undefined);
    await consumer.stop().catch(() => undefined);
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await producer.disconnect().catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
}

void main();
