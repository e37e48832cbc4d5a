/**
 * Where integration tests find their servers, in this order:
 * 1. the environment (KAFKA_BROKERS, DATABASE_URL, CLICKHOUSE_URL) or the contract's defaults, when they answer;
 * 2. Testcontainers, when a Docker engine is reachable;
 * 3. otherwise the test fails at once, with one line naming the command that starts the local stack.
 */
import { createConnection } from 'node:net';

export type StackPart = 'kafka' | 'postgres' | 'clickhouse';

export interface Stack {
  kafkaBrokers: string[];
  databaseUrl: string;
  clickhouseUrl: string;
}

const defaults = {
  kafka: '127.0.0.1:9092',
  postgres: 'postgres://postgres@127.0.0.1:5432/access',
  clickhouse: 'http://127.0.0.1:8123',
};

function reachable(host: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

function hostPort(value: string, defaultPort: number): [string, number] {
  const url = value.includes('://') ? new URL(value) : new URL(`tcp://${value}`);
  return [url.hostname, Number(url.port || defaultPort)];
}

let dockerStack: Promise<Stack> | undefined;

async function dockerAvailable(): Promise<boolean> {
  if (process.env.ACCESS_TESTCONTAINERS === '0') return false;
  const socket = process.env.DOCKER_HOST ?? '/var/run/docker.sock';
  if (socket.startsWith('tcp://')) {
    const [h, p] = hostPort(socket, 2375);
    return reachable(h, p);
  }
  const { existsSync } = await import('node:fs');
  if (!existsSync(socket.replace(/^unix:\/\//, ''))) return false;
  return new Promise((resolve) => {
    const s = createConnection({ path: socket.replace(/^unix:\/\//, '') });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

/** Starts the same three servers as docker-compose.yml, once per test process. */
async function startContainers(): Promise<Stack> {
  const { GenericContainer, Wait } = await import('testcontainers');
  const [pg, ch, kafka] = await Promise.all([
    new GenericContainer('postgres:15').withEnvironment({ POSTGRES_HOST_AUTH_METHOD: 'trust', POSTGRES_DB: 'access' })
      .withExposedPorts(5432).withWaitStrategy(Wait.forLogMessage(/ready to accept connections/, 2)).start(),
    new GenericContainer('clickhouse/clickhouse-server:24.8').withExposedPorts(8123)
      .withWaitStrategy(Wait.forHttp('/ping', 8123)).start(),
    new GenericContainer('apache/kafka:4.1.1').withExposedPorts({ container: 9092, host: 19092 })
      .withEnvironment({
        KAFKA_NODE_ID: '1', KAFKA_PROCESS_ROLES: 'broker,controller',
        KAFKA_LISTENERS: 'PLAINTEXT://:9092,CONTROLLER://:9093',
        KAFKA_ADVERTISED_LISTENERS: 'PLAINTEXT://127.0.0.1:19092',
        KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER', KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9093',
        KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1', KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
        KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1', KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
      }).start(),
  ]);
  return {
    databaseUrl: `postgres://postgres@${pg.getHost()}:${pg.getMappedPort(5432)}/access`,
    clickhouseUrl: `http://${ch.getHost()}:${ch.getMappedPort(8123)}`,
    kafkaBrokers: [`${kafka.getHost()}:19092`],
  };
}

/**
 * Returns the servers an integration test needs, or throws a one-line error that says how to start them.
 */
export async function requireStack(parts: StackPart[] = ['kafka', 'postgres', 'clickhouse']): Promise<Stack> {
  const stack: Stack = {
    kafkaBrokers: (process.env.KAFKA_BROKERS ?? defaults.kafka).split(',').map((s) => s.trim()),
    databaseUrl: process.env.DATABASE_URL ?? defaults.postgres,
    clickhouseUrl: process.env.CLICKHOUSE_URL ?? defaults.clickhouse,
  };
  const targets: Record<StackPart, [string, number]> = {
    kafka: hostPort(stack.kafkaBrokers[0]!, 9092),
    postgres: hostPort(stack.databaseUrl, 5432),
    clickhouse: hostPort(stack.clickhouseUrl, 8123),
  };
  const missing: string[] = [];
  for (const part of parts) {
    const [host, port] = targets[part];
    if (!(await reachable(host, port))) missing.push(`${part} at ${host}:${port}`);
  }
  if (missing.length === 0) return stack;
  if (await dockerAvailable()) {
    dockerStack ??= startContainers();
    return dockerStack;
  }
  throw new Error(`Not reachable: ${missing.join(', ')}. Start the local stack with \`npm run infra:up\` (or set KAFKA_BROKERS, DATABASE_URL, CLICKHOUSE_URL).`);
}
