/**
 * The whole system as child processes on topics of its own, for the console's browser test and
 * measure-outcomes.ts: the four services, and optionally the console, the fleet simulator and the traffic
 * simulator, wired exactly as `npm start` wires them but on free ports,
 * fresh topics and consumer groups, so that it runs next to anything else on the shared stack. ClickHouse
 * rows land in the shared `access` database (the console reads it as the analyst, who can read only that
 * one); the ids of the traffic are unique to the run, so nothing is mixed up with other runs' rows.
 */
import { createInterface } from 'node:readline';
import { TOPICS, topicCatalog } from '@access/contracts';
import { SCOPES, TokenStore } from '@access/platform-auth';
import { KafkaAdmin, createKafka, sleep, type Kafka, type TopicSpec } from '@access/platform-kafka';
import { createDataSource } from '@access/platform-postgres';
import { freePort, startService, testName, waitReady, type Service, type Stack } from '@access/testing';

export type SystemTopics = Record<'admissions' | 'usage' | 'ledger' | 'balances' | 'load' | 'limits' | 'reputation' | 'deadletter', string>;

export interface SystemOptions {
  readonly console?: boolean;
  /** `model:capacityCreditsPerSecond,…` for the fleet simulator; undefined: no fleet. */
  readonly fleetModels?: string;
  /** Start the traffic simulator (with `--json`); its stats lines go to `onTrafficLine`. */
  readonly traffic?: { readonly durationS: number; readonly onLine: (line: string) => void };
  /** Every process's whole output is appended under this directory, one file per process. */
  readonly logDir?: string;
  /** How long every service has to answer /health/ready (default 300 s). */
  readonly readyTimeoutMs?: number;
}

export interface RunningSystem {
  readonly topics: SystemTopics;
  /** A token with every scope, known to every process from its start. */
  readonly token: string;
  readonly ports: Record<'admission' | 'ledger' | 'ingest' | 'feedback' | 'console', number>;
  readonly services: ReadonlyMap<string, Service>;
  readonly kafka: Kafka;
  readonly admin: KafkaAdmin;
  /** Starts the traffic simulator now (when `traffic` was not given to startSystem). */
  startTraffic(durationS: number, onLine: (line: string) => void): Service;
  stop(): Promise<void>;
}

const shapeOf = (name: string, catalogName: string): TopicSpec => {
  const spec = topicCatalog.find((t) => t.name === catalogName)!;
  return { name, partitions: spec.partitions, compacted: spec.compacted };
};

export async function startSystem(stack: Stack, options: SystemOptions = {}): Promise<RunningSystem> {
  const { topics, kafka, admin } = await createTopics(stack);
  const token = await createToken(stack);

  const ports = { admission: await freePort(), ledger: await freePort(), ingest: await freePort(), feedback: await freePort(), console: await freePort() };
  const common = {
    KAFKA_BROKERS: stack.kafkaBrokers.join(','), DATABASE_URL: stack.databaseUrl, CLICKHOUSE_URL: stack.clickhouseUrl,
    ADMISSION_PORT: String(ports.admission), LEDGER_PORT: String(ports.ledger), USAGE_INGEST_PORT: String(ports.ingest),
    LOAD_FEEDBACK_PORT: String(ports.feedback), CONSOLE_PORT: String(ports.console), TOKEN_REFRESH_MS: '1000',
  };
  const group = testName('grp');
  const readyTimeoutMs = options.readyTimeoutMs ?? 300_000;
  const services = new Map<string, Service>();
  const log = (name: string) => (options.logDir === undefined ? undefined : `${options.logDir}/${name}.log`);
  const start: StartProcess = (name, entry, env, port, args = []) => {
    const service = startService(entry, { ...common, ...env }, port, log(name), args);
    services.set(name, service);
    return service;
  };
  startServices(start, topics, group, ports, options.console === true);

  const stop = async () => {
    // The traffic first, so that it cancels what it runs while admission is still up; then everything else.
    for (const name of ['traffic-simulator', 'fleet-simulator']) await services.get(name)?.kill('SIGTERM');
    await Promise.all([...services.values()].map((s) => s.kill('SIGKILL')));
    await admin.deleteTopics(Object.values(topics)).catch(() => undefined);
    await admin.disconnect();
  };
  const startTraffic = (durationS: number, onLine: (line: string) => void) => {
    const traffic = start('traffic-simulator', 'tools/traffic-simulator/src/main.ts', { ACCESS_TOKEN: token, TRAFFIC_DURATION_S: String(durationS) }, 0, ['--json']);
    if (traffic.process.stdout) createInterface({ input: traffic.process.stdout }).on('line', onLine);
    return traffic;
  };
  try {
    // Generous: on a shared 2-core machine five processes compiling TypeScript at once can take minutes.
    await Promise.all(
      [...services].map(([name, s]) =>
        waitReady(s, readyTimeoutMs).catch((error: unknown) => {
          throw new Error(`${name}: ${error instanceof Error ? error.message : String(error)}`);
        }),
      ),
    );
    if (options.fleetModels !== undefined) {
      start('fleet-simulator', 'apps/fleet-simulator/src/main.ts', {
        FLEET_MODELS: options.fleetModels, FLEET_TOPIC_ADMISSIONS: topics.admissions, FLEET_TOPIC_USAGE: topics.usage,
        FLEET_TOPIC_LOAD: topics.load, FLEET_TOPIC_DEADLETTER: topics.deadletter,
      }, 0);
    }
    if (options.traffic !== undefined) startTraffic(options.traffic.durationS, options.traffic.onLine);
  } catch (error) {
    await stop();
    throw error;
  }
  return { topics, token, ports, services, kafka, admin, startTraffic, stop };
}

/** Starts one process of the system (and tracks it for stop), with the system's common environment and its own. */
type StartProcess = (name: string, entry: string, env: Record<string, string>, port: number, args?: string[]) => Service;

/** Topics of this system's own, shaped as the catalog's (partitions, compaction), and the admin client that made them. */
async function createTopics(stack: Stack): Promise<{ topics: SystemTopics; kafka: Kafka; admin: KafkaAdmin }> {
  const topics: SystemTopics = {
    admissions: testName('adm'), usage: testName('usage'), ledger: testName('ledger'), balances: testName('bal'),
    load: testName('load'), limits: testName('lim'), reputation: testName('rep'), deadletter: testName('dlq'),
  };
  const kafka = createKafka({ brokers: stack.kafkaBrokers, clientId: 'system-test' });
  const admin = new KafkaAdmin(kafka);
  await admin.connect();
  const specs = [
    shapeOf(topics.admissions, TOPICS.admissions), shapeOf(topics.usage, TOPICS.usage), shapeOf(topics.ledger, TOPICS.ledger),
    shapeOf(topics.balances, TOPICS.balances), shapeOf(topics.load, TOPICS.load), shapeOf(topics.limits, TOPICS.limits),
    shapeOf(topics.reputation, TOPICS.reputation), shapeOf(topics.deadletter, TOPICS.deadletter),
  ];
  // Right after a create the broker's metadata can still deny the partitions: creating what is missing again is harmless.
  for (let attempt = 1; ; attempt++) {
    try {
      await admin.ensureTopics(specs);
      break;
    } catch (error) {
      if (attempt >= 5) throw error;
      await sleep(200 * attempt);
    }
  }
  return { topics, kafka, admin };
}

/** A token with every scope, stored before any process starts. */
async function createToken(stack: Stack): Promise<string> {
  const db = createDataSource({ url: stack.databaseUrl, poolSizeMax: 1 });
  await db.initialize();
  const token = (await new TokenStore(db).create(testName('system'), [...SCOPES])).token;
  await db.destroy();
  return token;
}

/** The four services, each on this system's topics, and the console when asked for. */
function startServices(start: StartProcess, topics: SystemTopics, group: string, ports: RunningSystem['ports'], withConsole: boolean): void {
  start('credit-ledger', 'apps/credit-ledger/src/main.ts', {
    LEDGER_GROUP_ID: `${group}-ledger`, LEDGER_TOPIC_ADMISSIONS: topics.admissions, LEDGER_TOPIC_USAGE: topics.usage,
    LEDGER_TOPIC_LEDGER: topics.ledger, LEDGER_TOPIC_BALANCES: topics.balances, LEDGER_TOPIC_DEADLETTER: topics.deadletter,
  }, ports.ledger);
  start('admission', 'apps/admission/src/main.ts', {
    ADMISSION_TOPIC_ADMISSIONS: topics.admissions, ADMISSION_TOPIC_USAGE: topics.usage, ADMISSION_TOPIC_LEDGER: topics.ledger,
    ADMISSION_TOPIC_BALANCES: topics.balances, ADMISSION_TOPIC_LIMITS: topics.limits, ADMISSION_TOPIC_REPUTATION: topics.reputation,
    ADMISSION_TOPIC_DEADLETTER: topics.deadletter,
  }, ports.admission);
  start('usage-ingest', 'apps/usage-ingest/src/main.ts', {
    USAGE_INGEST_GROUP_ID: `${group}-ingest`, USAGE_INGEST_TOPIC_ADMISSIONS: topics.admissions, USAGE_INGEST_TOPIC_USAGE: topics.usage,
    USAGE_INGEST_TOPIC_LEDGER: topics.ledger, USAGE_INGEST_DEADLETTER_TOPIC: topics.deadletter,
  }, ports.ingest);
  start('load-feedback', 'apps/load-feedback/src/main.ts', {
    LOAD_FEEDBACK_TOPIC_LOAD: topics.load, LOAD_FEEDBACK_TOPIC_ADMISSIONS: topics.admissions, LOAD_FEEDBACK_TOPIC_LIMITS: topics.limits,
    LOAD_FEEDBACK_TOPIC_REPUTATION: topics.reputation, LOAD_FEEDBACK_TOPIC_DEADLETTER: topics.deadletter,
  }, ports.feedback);
  if (withConsole) start('console', 'apps/console/src/main.ts', { CONSOLE_TOPIC_DEADLETTER: topics.deadletter }, ports.console);
}
