/**
 * The whole system as the fault suite runs it: the four services and the traffic simulator as real processes, on
 * servers of the suite's own (Kafka, ClickHouse and a Postgres cluster, in `.local/faults/` on ports of their own),
 * so that stopping and crashing them disturbs nothing else on the machine: not the stack `npm start` uses, not a
 * shared or external server. Everything of a run is its own besides: topics, consumer groups, a Postgres database,
 * a ClickHouse database, accounts. Loopback only.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { topicCatalog, TOPICS } from '@access/contracts';
import { SCOPES, TokenStore, generateToken } from '@access/platform-auth';
import { migrateClickhouse, Clickhouse, identifier } from '@access/platform-clickhouse';
import { KafkaAdmin, createKafka, type Kafka } from '@access/platform-kafka';
import { createDataSource, ensureDatabase, migratePostgres, withClient, type DataSource } from '@access/platform-postgres';
import { repoRoot, startService, testName, waitReady, type Service } from '@access/testing';
import {
  clickhouseMigrationsDir,
  clickhouseServer,
  kafkaServer,
  localDir,
  logDir,
  postgresCluster,
  postgresMigrations,
  stopServer,
  type Server,
} from '@access/infra-stack';

export const faultsLimits = {
  /** Consumer-group session timeout of the ledger and ingest in the suite (shipped: 30 s), so that a killed member's partitions move on sooner. */
  sessionTimeoutMs: 10_000,
  // Eight processes start at once (three admission replicas, two ledgers, two ingests, load-feedback) on two cores.
  serviceReadyMs: 120_000,
  serverReadyMs: 90_000,
} as const;

const port = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const faultsDir = join(localDir, 'faults');
const faultsRun = join(faultsDir, 'run');

/** The suite's servers: ports FAULTS_KAFKA_PORT (19092, controller 19093), FAULTS_CLICKHOUSE_PORT (18123, native 19000), FAULTS_POSTGRES_PORT (5544). */
export const faultsKafka = kafkaServer({
  port: port('FAULTS_KAFKA_PORT', 19_092),
  dataDir: join(faultsDir, 'kafka'),
  confDir: join(faultsDir, 'kafka-conf'),
  logPath: join(logDir, 'faults-kafka.log'),
  pidPath: join(faultsRun, 'kafka.pid'),
});
export const faultsClickhouse = clickhouseServer({
  httpPort: port('FAULTS_CLICKHOUSE_PORT', 18_123),
  tcpPort: port('FAULTS_CLICKHOUSE_PORT', 18_123) + 877,
  dataDir: join(faultsDir, 'clickhouse'),
  confDir: join(faultsDir, 'clickhouse-conf'),
  logPrefix: join(logDir, 'faults-clickhouse'),
  pidPath: join(faultsRun, 'clickhouse.pid'),
});
export const faultsPostgres = postgresCluster(join(faultsDir, 'postgres'), port('FAULTS_POSTGRES_PORT', 5544), join(logDir, 'faults-postgres.log'));

const kafkaBrokers = [`127.0.0.1:${faultsKafka.port}`];
const clickhouseUrl = `http://127.0.0.1:${faultsClickhouse.port}`;
const portBase = port('FAULTS_PORT_BASE', 17_000);

export type ServiceName = 'admission' | 'credit-ledger' | 'usage-ingest' | 'load-feedback';
/**
 * The services run from the build (`npm run build`, which setUp runs first): what is deployed is what is faulted, and
 * eight processes starting and restarting from bundles cost the two cores far less than transpiling through tsx.
 * FAULTS_FROM_SOURCE=1 runs the TypeScript sources instead.
 */
const fromSource = process.env['FAULTS_FROM_SOURCE'] === '1';
const entries: Record<ServiceName, string> = fromSource
  ? {
      admission: 'apps/admission/src/main.ts',
      'credit-ledger': 'apps/credit-ledger/src/main.ts',
      'usage-ingest': 'apps/usage-ingest/src/main.ts',
      'load-feedback': 'apps/load-feedback/src/main.ts',
    }
  : {
      admission: 'dist/apps/admission/main.js',
      'credit-ledger': 'dist/apps/credit-ledger/main.js',
      'usage-ingest': 'dist/apps/usage-ingest/main.js',
      'load-feedback': 'dist/apps/load-feedback/main.js',
    };

/** Builds the services' bundles (unless the suite runs the sources). */
function buildServices(): void {
  if (fromSource) return;
  execFileSync(process.execPath, ['--import', 'tsx', join(repoRoot, 'tools', 'deploy', 'src', 'build.ts'), ...serviceNamesForBuild], { cwd: repoRoot, stdio: ['ignore', 'ignore', 'inherit'] });
}
const serviceNamesForBuild = ['admission', 'credit-ledger', 'usage-ingest', 'load-feedback'];
export const serviceNames = Object.keys(entries) as ServiceName[];

/**
 * The processes of a run: three admission replicas (one service: any accepts any request), two instances each of the
 * ledger and of ingest (their consumer groups share the partitions), one load-feedback.
 */
export type InstanceName = ServiceName | 'admission-2' | 'admission-3' | 'credit-ledger-2' | 'usage-ingest-2';
const instanceSpecs: Record<InstanceName, { service: ServiceName; portOffset: number }> = {
  admission: { service: 'admission', portOffset: 100 },
  'admission-2': { service: 'admission', portOffset: 101 },
  'admission-3': { service: 'admission', portOffset: 102 },
  'credit-ledger': { service: 'credit-ledger', portOffset: 200 },
  'credit-ledger-2': { service: 'credit-ledger', portOffset: 201 },
  'usage-ingest': { service: 'usage-ingest', portOffset: 300 },
  'usage-ingest-2': { service: 'usage-ingest', portOffset: 301 },
  'load-feedback': { service: 'load-feedback', portOffset: 400 },
};
export const instanceNames = Object.keys(instanceSpecs) as InstanceName[];
export const admissionInstances: InstanceName[] = ['admission', 'admission-2', 'admission-3'];
const portVariable: Record<ServiceName, string> = {
  admission: 'ADMISSION_PORT',
  'credit-ledger': 'LEDGER_PORT',
  'usage-ingest': 'USAGE_INGEST_PORT',
  'load-feedback': 'LOAD_FEEDBACK_PORT',
};

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number, pollMs = 200): Promise<number> {
  const t0 = Date.now();
  let last = '';
  while (Date.now() - t0 < timeoutMs) {
    try {
      if (await check()) return Date.now() - t0;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
  throw new Error(`${what} not within ${timeoutMs} ms${last ? ` (last error: ${last})` : ''}`);
}

async function kafkaReady(): Promise<boolean> {
  const admin = new KafkaAdmin(createKafka({ brokers: kafkaBrokers, clientId: 'access-faults-probe' }));
  try {
    await admin.connect();
    return (await admin.describeCluster()).brokers > 0;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

async function clickhouseReady(): Promise<boolean> {
  const ch = new Clickhouse({ url: clickhouseUrl, database: 'default', requestTimeoutMs: 2_000 });
  try {
    return await ch.ping();
  } finally {
    await ch.close();
  }
}

/** Stops a server this checkout's suite started; one it did not start (another checkout's, say) is an error. */
async function stopOurs(server: Server): Promise<void> {
  if ((await stopServer(server)) === 'not ours') {
    throw new Error(
      `the fault suite's ${server.name} on port ${server.port} was not started from this checkout (no pid in ${server.pidPath}); ` +
        'stop it, or give the suite other ports (FAULTS_KAFKA_PORT, FAULTS_CLICKHOUSE_PORT)',
    );
  }
}

/** Starts a server of the suite unless it answers already, and waits until it serves. */
async function ensureServer(server: Server, ready: () => Promise<boolean>): Promise<void> {
  if (!(await server.isUp())) await server.start();
  await until(`${server.name} of the fault suite ready (log: ${server.logPath})`, ready, faultsLimits.serverReadyMs, 250);
}

export interface Topics {
  admissions: string;
  usage: string;
  ledger: string;
  balances: string;
  limits: string;
  reputation: string;
  load: string;
  deadletter: string;
}

export class FaultSystem {
  readonly id = testName('faults').replaceAll('-', '_').toLowerCase();
  readonly startedAt = new Date();
  readonly token = generateToken();
  readonly databaseUrl = `postgres://postgres@127.0.0.1:${faultsPostgres.port}/${this.id}`;
  readonly clickhouseDatabase = this.id;
  readonly ledgerGroupId = `${this.id}.credit-ledger`;
  readonly topics: Topics;
  readonly ports = Object.fromEntries(instanceNames.map((name) => [name, portBase + instanceSpecs[name].portOffset])) as Record<InstanceName, number>;
  readonly kafka: Kafka = createKafka({ brokers: kafkaBrokers, clientId: 'access-faults' });
  readonly admin = new KafkaAdmin(this.kafka);
  private readonly services = new Map<InstanceName, Service>();
  private db: DataSource | undefined;

  constructor() {
    const name = (topic: string) => `${this.id}.${topic}`;
    this.topics = {
      admissions: name(TOPICS.admissions),
      usage: name(TOPICS.usage),
      ledger: name(TOPICS.ledger),
      balances: name(TOPICS.balances),
      limits: name(TOPICS.limits),
      reputation: name(TOPICS.reputation),
      load: name(TOPICS.load),
      deadletter: name(TOPICS.deadletter),
    };
  }

  /** Servers, the run's topics and databases, the token; then the four services, each until ready. */
  async setUp(): Promise<void> {
    // The servers log there; a checkout where the local stack never ran has no such folder yet.
    mkdirSync(logDir, { recursive: true });
    buildServices();
    if (faultsPostgres.pid() === undefined) faultsPostgres.start();
    await Promise.all([ensureServer(faultsKafka, kafkaReady), ensureServer(faultsClickhouse, clickhouseReady)]);
    await ensureDatabase(this.databaseUrl);
    await migratePostgres({ url: this.databaseUrl, migrations: postgresMigrations });
    await this.ledgerDb().then((db) => new TokenStore(db).ensure('faults', this.token, [...SCOPES]));
    await migrateClickhouse({ url: clickhouseUrl, database: this.clickhouseDatabase, dir: clickhouseMigrationsDir });
    await this.admin.connect();
    const byName = new Map(topicCatalog.map((t) => [t.name, t]));
    await this.admin.ensureTopics(
      Object.entries(this.topics).map(([, topic]) => {
        const spec = byName.get(topic.slice(this.id.length + 1))!;
        return { name: topic, partitions: spec.partitions, compacted: spec.compacted };
      }),
    );
    for (const name of instanceNames) this.start(name);
    await Promise.all(instanceNames.map((name) => this.ready(name)));
  }

  /** A Postgres connection to the run's database (the ledger's tables are in `public`), opened once. */
  async ledgerDb(): Promise<DataSource> {
    if (this.db === undefined || !this.db.isInitialized) {
      this.db = createDataSource({ url: this.databaseUrl, poolSizeMax: 2, applicationName: 'access-faults' });
      await this.db.initialize();
    }
    return this.db;
  }

  clickhouse(): Clickhouse {
    return new Clickhouse({ url: clickhouseUrl, database: this.clickhouseDatabase });
  }

  /** The environment every process of the run gets. */
  env(): Record<string, string> {
    const t = this.topics;
    return {
      KAFKA_BROKERS: kafkaBrokers.join(','),
      DATABASE_URL: this.databaseUrl,
      CLICKHOUSE_URL: clickhouseUrl,
      CLICKHOUSE_DATABASE: this.clickhouseDatabase,
      ADMISSION_PORT: String(this.ports.admission),
      LEDGER_PORT: String(this.ports['credit-ledger']),
      USAGE_INGEST_PORT: String(this.ports['usage-ingest']),
      LOAD_FEEDBACK_PORT: String(this.ports['load-feedback']),
      TOKEN_REFRESH_MS: '1000',
      ADMISSION_TOPIC_ADMISSIONS: t.admissions,
      ADMISSION_TOPIC_USAGE: t.usage,
      ADMISSION_TOPIC_LEDGER: t.ledger,
      ADMISSION_TOPIC_BALANCES: t.balances,
      ADMISSION_TOPIC_LIMITS: t.limits,
      ADMISSION_TOPIC_REPUTATION: t.reputation,
      ADMISSION_TOPIC_DEADLETTER: t.deadletter,
      LEDGER_GROUP_ID: this.ledgerGroupId,
      LEDGER_SESSION_TIMEOUT_MS: String(faultsLimits.sessionTimeoutMs),
      LEDGER_TOPIC_ADMISSIONS: t.admissions,
      LEDGER_TOPIC_USAGE: t.usage,
      LEDGER_TOPIC_LEDGER: t.ledger,
      LEDGER_TOPIC_BALANCES: t.balances,
      LEDGER_TOPIC_DEADLETTER: t.deadletter,
      USAGE_INGEST_GROUP_ID: `${this.id}.usage-ingest`,
      USAGE_INGEST_SESSION_TIMEOUT_MS: String(faultsLimits.sessionTimeoutMs),
      USAGE_INGEST_TOPIC_ADMISSIONS: t.admissions,
      USAGE_INGEST_TOPIC_USAGE: t.usage,
      USAGE_INGEST_TOPIC_LEDGER: t.ledger,
      USAGE_INGEST_DEADLETTER_TOPIC: t.deadletter,
      LOAD_FEEDBACK_TOPIC_LOAD: t.load,
      LOAD_FEEDBACK_TOPIC_ADMISSIONS: t.admissions,
      LOAD_FEEDBACK_TOPIC_LIMITS: t.limits,
      LOAD_FEEDBACK_TOPIC_REPUTATION: t.reputation,
      LOAD_FEEDBACK_TOPIC_DEADLETTER: t.deadletter,
    };
  }

  /** Where the processes of this run log (each run's folder, every restart appended). */
  get logDir(): string {
    return join(logDir, 'faults', this.id);
  }

  start(name: InstanceName): Service {
    const { service: kind } = instanceSpecs[name];
    const env = { ...this.env(), LOG_LEVEL: 'info', [portVariable[kind]]: String(this.ports[name]) };
    const service = startService(entries[kind], env, this.ports[name], join(this.logDir, `${name}.log`));
    this.services.set(name, service);
    return service;
  }

  /** The pid of an instance's current process (admission replicas name theirs in their replica id). */
  pidOf(name: InstanceName): number | undefined {
    return this.services.get(name)?.process.pid;
  }

  /** SIGSTOP or SIGCONT an instance: a process paused by the OS, the zombie of a replica. */
  signal(name: InstanceName, signal: 'SIGSTOP' | 'SIGCONT'): void {
    const pid = this.pidOf(name);
    if (pid !== undefined) process.kill(pid, signal);
  }

  /** SIGKILL without a restart. */
  async killOnly(name: InstanceName): Promise<void> {
    await this.services.get(name)?.kill('SIGKILL');
  }

  ready(name: InstanceName): Promise<void> {
    const service = this.services.get(name);
    if (service === undefined) throw new Error(`${name} was not started`);
    return waitReady(service, faultsLimits.serviceReadyMs).catch((error: unknown) => {
      throw new Error(`${name}: ${error instanceof Error ? error.message : String(error)}`);
    });
  }

  /** SIGKILL, then a new process at once; resolves when the new one was spawned (not yet ready). */
  async kill(name: InstanceName): Promise<void> {
    await this.services.get(name)?.kill('SIGKILL');
    this.start(name);
  }

  /** What a service printed (its tail), for failure messages. */
  output(name: InstanceName): string {
    return this.services.get(name)?.output() ?? '';
  }

  /** Stops the broker (SIGTERM: a controlled shutdown), starts it again, and waits until it serves metadata. */
  async restartKafka(): Promise<void> {
    await stopOurs(faultsKafka);
    await faultsKafka.start();
    await until('kafka ready after its restart', kafkaReady, faultsLimits.serverReadyMs, 250);
  }

  /** A crash of Postgres (immediate shutdown: every connection cut, recovery at the next start), then a start. */
  async restartPostgres(): Promise<void> {
    faultsPostgres.stop('immediate');
    faultsPostgres.start();
    await until('postgres accepting connections', () => withClient(this.databaseUrl, async (c) => (await c.query('SELECT 1'), true)), faultsLimits.serverReadyMs);
  }

  /** ClickHouse down for `downMs`, then started again; resolves when it answers. */
  async stopClickhouse(downMs: number): Promise<void> {
    const t0 = Date.now();
    await stopOurs(faultsClickhouse);
    await new Promise((r) => setTimeout(r, Math.max(0, downMs - (Date.now() - t0))));
    await faultsClickhouse.start();
    await until('clickhouse answering after its restart', clickhouseReady, faultsLimits.serverReadyMs, 250);
  }

  /**
   * Stops every process; drops the run's topics and databases unless `keep` (a failed run keeps them to look at);
   * then stops the suite's servers (FAULTS_KEEP_SERVERS=1 leaves them up for the next run).
   */
  async tearDown(keep: boolean): Promise<void> {
    await Promise.all([...this.services.values()].map((s) => s.kill('SIGTERM')));
    await this.db?.destroy().catch(() => undefined);
    if (!keep) {
      await this.admin.deleteTopics(Object.values(this.topics)).catch(() => undefined);
      // DROP DATABASE of the tables, views and rollups takes ClickHouse 18.16 ten seconds and more.
      const ch = new Clickhouse({ url: clickhouseUrl, database: this.clickhouseDatabase, requestTimeoutMs: 120_000 });
      await ch.command(`DROP DATABASE IF EXISTS ${identifier(this.clickhouseDatabase)}`).catch(() => undefined);
      await ch.close();
      await withClient(`postgres://postgres@127.0.0.1:${faultsPostgres.port}/postgres`, (c) => c.query(`DROP DATABASE IF EXISTS ${this.id} WITH (FORCE)`)).catch(() => undefined);
    }
    await this.admin.disconnect().catch(() => undefined);
    if (process.env['FAULTS_KEEP_SERVERS'] !== '1') {
      await Promise.all([stopServer(faultsKafka), stopServer(faultsClickhouse)]);
      if (faultsPostgres.pid() !== undefined) faultsPostgres.stop('fast');
    }
  }
}

export { until };
