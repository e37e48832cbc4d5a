/**
 * fleet-simulator: a model-serving fleet on this machine, so that the load-feedback loop closes
 * without GPUs. It reads what admission lets through (access.admissions.v1) and what completes
 * (access.usage.v1), runs the simulation's FleetModel, and publishes `load.sampled` to access.load.v1
 * every FLEET_TICK_MS. Run: `npx tsx apps/fleet-simulator/src/main.ts` (see config.ts for the env).
 */
import { randomUUID } from 'node:crypto';
import { EVENTS, makeEvent, newEventId } from '@access/contracts';
import { FleetSimulator } from '@access/load-feedback-simulation';
import { bootWorker } from '@access/platform-bootstrap';
import { EventConsumer, EventPublisher, errorMessage } from '@access/platform-kafka';
import { fleetEnvSchema, fleetsFromEnv } from './config';

const source = '/fleet/simulator';

async function main(): Promise<void> {
  const boot = bootWorker('fleet-simulator', fleetEnvSchema);
  const { env, logger } = boot;
  const fleets = fleetsFromEnv(env);
  const simulator = new FleetSimulator(fleets, Date.now());
  const { kafka, admin, producer } = await boot.connectKafka();
  const publisher = new EventPublisher(producer);
  const groupId = `fleet-simulator-${process.pid}-${randomUUID().slice(0, 8)}`;
  // Best effort: a group Kafka will not delete yet (members still leaving) expires on its own.
  boot.onStop('consumer group', () => admin.deleteGroups([groupId]).catch(() => undefined));
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
  boot.onStop('consumer', () => consumer.stop());
  await consumer.start(async (events) => {
    for (const { event } of events) {
      if (event.type === EVENTS.admissionDecided) simulator.onDecision(event.id, event.data);
      else if (event.type === EVENTS.usageRequestCompleted) simulator.onCompleted(event.data);
    }
  });

  boot.every('sample', env.FLEET_TICK_MS, async () => {
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
  });
  logger.info({ fleets, tickMs: env.FLEET_TICK_MS, load: env.FLEET_TOPIC_LOAD }, 'fleet simulator running');
  boot.untilSignal();
}

void main();
