/**
 * The whole system as the fault suite runs it: the four services and the traffic simulator as real processes,
 * on the stack's Kafka and ClickHouse (which the suite stops and starts, so they must be the ones
 * `npm run infra:up` started) and on a Postgres cluster of the suite's own (so that restarting it disturbs
 * nothing else on the machine). Everything of a run is its own: topics, consumer groups, a Postgres database,
 * a ClickHouse database, accounts. Loopback only.
 */
import { join } from 'node:path';
import { topicCatalog, TOPICS } from '@access/contracts';
import { SCOPES, TokenStore, generateToken } from '@access/platform-auth';
import { migrateClickhouse, Clickhouse, identifier } from '@access/platform-clickhouse';
import { KafkaAdmin, createKafka, type Kafka } from '@access/platform-kafka';
import { createDataSource, ensureDatabase, migratePostgres, withClient, type DataSource } from '@access/platform-postgres';
import { startService, testName, waitReady, type Service } from '@access/testing';
import {
  clickhouse,
  clickhouseMigrationsDir,
  kafka as kafkaServer,
  localDir,
  logDir,
  postgresCluster,
  postgresMigrations,
  processAlive,
  readiness,
  readPid,
  stopServer,
  type Server,
} from '@access/infra-stack';

export const faultsLimits = {
  /** Consumer-group session timeout of the ledger and ingest in the suite (shipped: 30 s), so that a killed member's partitions move on sooner. */
  sessionTimeoutMs: 10_000,
  serviceReadyMs: 60_000,
  serverReadyMs: 90_000,
} as const;

const kafkaBrokers = (process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092').split(',');
const clickhouseUrl = process.env['CLICKHOUSE_URL'] ?? 'http://127.0.0.1:8123';
const postgresPort = Number(process.env['FAULTS_POSTGRES_PORT'] ?? 5544);
const portBase = Number(process.env['FAULTS_PORT_BASE'] ?? 17_000);

export type ServiceName = 'admission' | 'credit-ledger' | 'usage-ingest' | 'load-feedback';
const entries: Record<ServiceName, string> = {
  admission: 'apps/admission/src/main.ts',
  'credit-ledger': 'apps/credit-ledger/src/main.ts',
  'usage-ingest': 'apps/usage-ingest/src/main.ts',
  'load-feedback': 'apps/load-feedback/src/main.ts',
};
export const serviceNames = Object.keys(entries) as ServiceName[];

/** The suite's Postgres cluster: .local/faults/postgres on FAULTS_POSTGRES_PORT (5544), started on first use. */
export const faultsPostgres = postgresCluster(join(localDir, 'faults', 'postgres'), postgresPort, join(logDir, 'faults-postgres.log'));

/** Stopping and starting a server needs the process `npm run infra:up` started (its pid file). */
function assertOurs(server: Server): void {
  const pid = readPid(server.name);
  if (pid === undefined || !processAlive(pid)) {
    throw new Error(
      `the fault suite stops and starts ${server.name}, so it needs the one \`npm run infra:up\` started; ` +
        `the server on 127.0.0.1:${server.port} was not started by this stack (no live pid in .local/run/${server.name}.pid)`,
    );
  }
}

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
  readonly databaseUrl = `postgres://postgres@127.0.0.1:${postgresPort}/${this.id}`;
  readonly clickhouseDatabase = this.id;
  readonly topics: Topics;
  readonly ports: Record<ServiceName, number> = {
    admission: portBase + 100,
    'credit-ledger': portBase + 200,
    'usage-ingest': portBase + 300,
    'load-feedback': portBase + 400,
  };
  readonly kafka: Kafka = createKafka({ brokers: kafkaBrokers, clientId: 'access-faults' });
  readonly admin = new KafkaAdmin(this.kafka);
  private readonly services = new Map<ServiceName, Service>();
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
    assertOurs(kafkaServer);
    assertOurs(clickhouse);
    if (faultsPostgres.pid() === undefined) faultsPostgres.start();
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
    for (const name of serviceNames) this.start(name);
    await Promise.all(serviceNames.map((name) => this.ready(name)));
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
      LEDGER_GROUP_ID: `${this.id}.credit-ledger`,
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

  start(name: ServiceName): Service {
    const service = startService(entries[name], this.env(), this.ports[name]);
    this.services.set(name, service);
    return service;
  }

  ready(name: ServiceName): Promise<void> {
    const service = this.services.get(name);
    if (service === undefined) throw new Error(`${name} was not started`);
    return waitReady(service, faultsLimits.serviceReadyMs).catch((error: unknown) => {
      throw new Error(`${name}: ${error instanceof Error ? error.message : String(error)}`);
    });
  }

  /** SIGKILL, then a new process at once; resolves when the new one was spawned (not yet ready). */
  async kill(name: ServiceName): Promise<void> {
    await this.services.get(name)?.kill('SIGKILL');
    this.start(name);
  }

  /** What a service printed (its tail), for failure messages. */
  output(name: ServiceName): string {
    return this.services.get(name)?.output() ?? '';
  }

  /** Stops the broker (SIGTERM: a controlled shutdown), starts it again, and waits until it serves metadata. */
  async restartKafka(): Promise<void> {
    assertOurs(kafkaServer);
    await stopServer(kafkaServer);
    await kafkaServer.start();
    await until('kafka ready after its restart', async () => (await readiness.kafka(), true), faultsLimits.serverReadyMs, 250);
  }

  /** A crash of Postgres (immediate shutdown: every connection cut, recovery at the next start), then a start. */
  async restartPostgres(): Promise<void> {
    faultsPostgres.stop('immediate');
    faultsPostgres.start();
    await until('postgres accepting connections', () => withClient(this.databaseUrl, async (c) => (await c.query('SELECT 1'), true)), faultsLimits.serverReadyMs);
  }

  /** ClickHouse down for `downMs`, then started again; resolves when it answers. */
  async stopClickhouse(downMs: number): Promise<void> {
    assertOurs(clickhouse);
    const t0 = Date.now();
    await stopServer(clickhouse);
    await new Promise((r) => setTimeout(r, Math.max(0, downMs - (Date.now() - t0))));
    await clickhouse.start();
    await until('clickhouse answering after its restart', async () => (await readiness.clickhouse(), true), faultsLimits.serverReadyMs, 250);
  }

  /** Stops every process; drops the run's topics and databases unless `keep` (a failed run keeps them to look at). */
  async tearDown(keep: boolean): Promise<void> {
    await Promise.all([...this.services.values()].map((s) => s.kill('SIGTERM')));
    await this.db?.destroy().catch(() => undefined);
    if (!keep) {
      await this.admin.deleteTopics(Object.values(this.topics)).catch(() => undefined);
      // DROP DATABASE of the tables, views and rollups takes ClickHouse 18.16 ten seconds and more.
      const ch = new Clickhouse({ url: clickhouseUrl, database: this.clickhouseDatabase, requestTimeoutMs: 120_000 });
      await ch.command(`DROP DATABASE IF EXISTS ${identifier(this.clickhouseDatabase)}`).catch(() => undefined);
      await ch.close();
      await withClient(`postgres://postgres@127.0.0.1:${postgresPort}/postgres`, (c) => c.query(`DROP DATABASE IF EXISTS ${this.id} WITH (FORCE)`)).catch(() => undefined);
    }
    await this.admin.disconnect().catch(() => undefined);
  }
}

export { until };
