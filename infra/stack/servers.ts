/**
 * The three servers of the local stack, each started natively on 127.0.0.1 with its data and log in
 * `.local/` (git-ignored). A server that already answers on its port is reused and never stopped by us:
 * `down` only stops processes whose pid file we wrote.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, chownSync, readdirSync, statSync } from 'node:fs';
import { createConnection } from 'node:net';
import { dirname, join } from 'node:path';
import { findRoot } from '@access/platform-config';

// Found rather than counted: this file also runs bundled into dist/infra/stack/cli.js.
export const repoRoot = findRoot(__dirname);
export const localDir = process.env.ACCESS_LOCAL_DIR ?? join(repoRoot, '.local');
export const dataDir = join(localDir, 'data');
export const logDir = join(localDir, 'logs');
export const runDir = join(localDir, 'run');

export type ServerName = 'postgres' | 'clickhouse' | 'kafka';

export interface Server {
  readonly name: ServerName;
  readonly port: number;
  readonly logPath: string;
  /** Where the pid of the process we started is kept (`down` and `stopServer` stop only that process). */
  readonly pidPath: string;
  /** True when something answers on the server's port (ours or not). */
  isUp(): Promise<boolean>;
  /** Installs what is missing and starts the server in the background; returns at once. */
  start(): Promise<void>;
}

export function ensureDirs(): void {
  for (const dir of [dataDir, logDir, runDir]) mkdirSync(dir, { recursive: true });
}

export function portAnswers(port: number, host = '127.0.0.1', timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host });
    const done = (up: boolean) => {
      socket.destroy();
      resolve(up);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export function pidFile(name: ServerName): string {
  return join(runDir, `${name}.pid`);
}

/** The pid we recorded for a server (its `pidPath`), if any. */
export function readPid(server: Pick<Server, 'pidPath'>): number | undefined {
  const file = server.pidPath;
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function spawnDetached(name: ServerName, command: string, args: string[], logPath: string, pidPath: string): number {
  mkdirSync(dirname(logPath), { recursive: true });
  mkdirSync(dirname(pidPath), { recursive: true });
  const out = openSync(logPath, 'a');
  const child = spawn(command, args, { detached: true, stdio: ['ignore', out, out], env: process.env });
  closeSync(out);
  if (child.pid === undefined) throw new Error(`${name}: could not spawn ${command}`);
  child.unref();
  writeFileSync(pidPath, `${child.pid}\n`);
  return child.pid;
}

function commandExists(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function run(command: string, args: string[], options: { user?: string; quiet?: boolean } = {}): void {
  const [cmd, argv] = options.user && process.getuid?.() === 0 ? ['runuser', ['-u', options.user, '--', command, ...args]] : [command, args];
  try {
    execFileSync(cmd, argv, { stdio: options.quiet ? ['ignore', 'ignore', 'pipe'] : ['ignore', 'inherit', 'inherit'] });
  } catch (error) {
    // Quiet commands keep their stderr for the error: it says why (a permission, a port in use…).
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`${[command, ...args].join(' ')} failed${stderr ? `: ${stderr.split('\n').slice(-5).join(' | ')}` : ''}`, { cause: error });
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// Kafka: Apache Kafka 4 in KRaft mode from Maven Central jars (infra/kafka/pom.xml).

const kafkaHome = join(localDir, 'kafka');
const kafkaLibs = join(kafkaHome, 'libs');
const pom = join(repoRoot, 'infra', 'kafka', 'pom.xml');

function fingerprint(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex').slice(0, 16);
}

function ensureKafkaJars(): void {
  const stamp = join(kafkaHome, 'pom.sha');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === fingerprint(pom) && existsSync(kafkaLibs)) return;
  if (!commandExists('mvn') || !commandExists('java')) {
    throw new Error('kafka: needs java (17+) and mvn on the PATH to fetch the broker from Maven Central');
  }
  console.log('kafka: fetching broker jars from Maven Central (infra/kafka/pom.xml) …');
  rmSync(kafkaLibs, { recursive: true, force: true });
  mkdirSync(kafkaHome, { recursive: true });
  run('mvn', ['-q', '-B', '-f', pom, 'dependency:copy-dependencies', `-DoutputDirectory=${kafkaLibs}`, '-DincludeScope=runtime']);
  writeFileSync(stamp, fingerprint(pom));
}

function kafkaJava(mainClass: string, args: string[], logPath: string): string[] {
  return [
    '-Xmx512m',
    '-Xms256m',
    '-XX:+UseG1GC',
    '-Djava.awt.headless=true',
    `-Dlog4j2.configurationFile=${join(repoRoot, 'infra', 'kafka', 'log4j2.properties')}`,
    `-Dkafka.log.file=${logPath}`,
    '-cp',
    `${kafkaLibs}/*`,
    mainClass,
    ...args,
  ];
}

export interface KafkaServerOptions {
  /** Client port; the KRaft controller listens on the next one. */
  readonly port: number;
  readonly dataDir: string;
  /** Where its server.properties is written. */
  readonly confDir: string;
  readonly logPath: string;
  readonly pidPath: string;
}

/** A single-node Kafka (broker and controller) from the Maven Central jars, formatted on its first start. */
export function kafkaServer(options: KafkaServerOptions): Server {
  return {
    name: 'kafka',
    port: options.port,
    logPath: options.logPath,
    pidPath: options.pidPath,
    isUp: () => portAnswers(options.port),
    async start() {
      ensureKafkaJars();
      mkdirSync(options.confDir, { recursive: true });
      const properties = join(options.confDir, 'server.properties');
      const template = readFileSync(join(repoRoot, 'infra', 'kafka', 'server.properties'), 'utf8');
      writeFileSync(
        properties,
        template.replaceAll('@DATA_DIR@', options.dataDir).replaceAll('@PORT@', String(options.port)).replaceAll('@CONTROLLER_PORT@', String(options.port + 1)),
      );
      if (!existsSync(join(options.dataDir, 'meta.properties'))) {
        // First start: format the KRaft storage with a fresh cluster id.
        mkdirSync(options.dataDir, { recursive: true });
        execFileSync('java', kafkaJava('kafka.tools.StorageTool', ['format', '-t', kafkaClusterId(), '-c', properties], options.logPath), {
          stdio: ['ignore', 'ignore', 'inherit'],
        });
      }
      spawnDetached('kafka', 'java', kafkaJava('kafka.Kafka', [properties], options.logPath), options.logPath.replace(/\.log$/, '.out.log'), options.pidPath);
    },
  };
}

export const kafka: Server = kafkaServer({
  port: 9092,
  dataDir: join(dataDir, 'kafka'),
  confDir: kafkaHome,
  logPath: join(logDir, 'kafka.log'),
  pidPath: pidFile('kafka'),
});

/** A KRaft cluster id is 16 random bytes in URL-safe base64 without padding. */
function kafkaClusterId(): string {
  return Buffer.from(randomUUID().replaceAll('-', ''), 'hex').toString('base64url');
}

// ---------------------------------------------------------------------------------------------------------------------
// ClickHouse: Debian's clickhouse-server, installed when missing, with the config kept in infra/clickhouse.

function ensureClickhouseInstalled(): void {
  if (commandExists('clickhouse-server') && commandExists('clickhouse-client')) return;
  if (process.getuid?.() !== 0) {
    throw new Error('clickhouse: not installed; run `sudo apt-get install -y clickhouse-server clickhouse-client`');
  }
  console.log('clickhouse: installing Debian packages clickhouse-server and clickhouse-client …');
  execFileSync('sh', ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clickhouse-server clickhouse-client'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

function copyTree(from: string, to: string, substitute: (text: string) => string): void {
  mkdirSync(to, { recursive: true });
  for (const entry of readdirSync(from)) {
    const source = join(from, entry);
    const target = join(to, entry);
    if (statSync(source).isDirectory()) copyTree(source, target, substitute);
    else if (entry.endsWith('.xml')) writeFileSync(target, substitute(readFileSync(source, 'utf8')));
  }
}

export interface ClickhouseServerOptions {
  readonly httpPort: number;
  readonly tcpPort: number;
  readonly dataDir: string;
  /** Where the effective configuration (infra/clickhouse with its placeholders filled in) is written. */
  readonly confDir: string;
  /** Its log and error log are `<logPrefix>.log` and `<logPrefix>.err.log`. */
  readonly logPrefix: string;
  readonly pidPath: string;
}

/** Debian's clickhouse-server (installed when missing) with the configuration kept in infra/clickhouse. */
export function clickhouseServer(options: ClickhouseServerOptions): Server {
  return {
    name: 'clickhouse',
    port: options.httpPort,
    logPath: `${options.logPrefix}.err.log`,
    pidPath: options.pidPath,
    isUp: () => portAnswers(options.httpPort),
    async start() {
      ensureClickhouseInstalled();
      mkdirSync(options.dataDir, { recursive: true });
      copyTree(join(repoRoot, 'infra', 'clickhouse'), options.confDir, (text) =>
        text
          .replaceAll('@DATA_DIR@', options.dataDir)
          .replaceAll('@LOG_PREFIX@', options.logPrefix)
          .replaceAll('@CONF_DIR@', options.confDir)
          .replaceAll('@HTTP_PORT@', String(options.httpPort))
          .replaceAll('@TCP_PORT@', String(options.tcpPort)),
      );
      spawnDetached('clickhouse', 'clickhouse-server', [`--config-file=${join(options.confDir, 'config.xml')}`], `${options.logPrefix}.out.log`, options.pidPath);
    },
  };
}

export const clickhouse: Server = clickhouseServer({
  httpPort: 8123,
  tcpPort: 9000,
  dataDir: join(dataDir, 'clickhouse'),
  confDir: join(localDir, 'clickhouse-conf'),
  logPrefix: join(logDir, 'clickhouse'),
  pidPath: pidFile('clickhouse'),
});

// ---------------------------------------------------------------------------------------------------------------------
// Postgres: the server at DATABASE_URL when it answers; otherwise our own cluster in .local/data/postgres.

export function postgresPort(): number {
  const url = new URL(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/access');
  return Number(url.port || 5432);
}

/** A Postgres cluster of our own (initdb on first start, pg_ctl), listening on 127.0.0.1 only. */
export interface PostgresCluster {
  readonly dataDir: string;
  readonly port: number;
  readonly logPath: string;
  /** Initialises the cluster on first use and starts it (pg_ctl waits until it accepts connections). */
  start(): void;
  /** `fast` disconnects clients and shuts down cleanly; `immediate` is a crash (recovery at the next start). */
  stop(mode: 'fast' | 'immediate'): void;
  /** The postmaster's pid while it runs. */
  pid(): number | undefined;
}

export function postgresCluster(dataDir: string, port: number, logPath: string): PostgresCluster {
  // initdb refuses to run as root: as root, the cluster belongs to the `postgres` system user.
  const asRoot = process.getuid?.() === 0;
  const user = asRoot ? 'postgres' : undefined;
  const pgCtl = (args: string[]) => run('pg_ctl', ['-D', dataDir, ...args], { user, quiet: true });
  return {
    dataDir,
    port,
    logPath,
    start() {
      if (!commandExists('initdb') || !commandExists('pg_ctl')) {
        throw new Error('postgres: initdb/pg_ctl are not on the PATH (apt-get install postgresql)');
      }
      // Only the data directory is private: its parents must stay traversable by the `postgres` user.
      mkdirSync(dirname(dataDir), { recursive: true });
      mkdirSync(dataDir, { recursive: true, mode: 0o700 });
      if (!existsSync(logPath)) writeFileSync(logPath, '');
      if (asRoot) {
        const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
        const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
        chownSync(dataDir, uid, gid);
        chownSync(logPath, uid, gid);
      }
      if (!existsSync(join(dataDir, 'PG_VERSION'))) {
        run('initdb', ['-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8'], { user, quiet: true });
      }
      pgCtl(['-l', logPath, '-o', `-p ${port} -c listen_addresses=127.0.0.1 -k /tmp`, '-w', 'start']);
    },
    stop(mode) {
      pgCtl(['-m', mode, '-w', 'stop']);
    },
    pid() {
      const file = join(dataDir, 'postmaster.pid');
      if (!existsSync(file)) return undefined;
      const pid = Number(readFileSync(file, 'utf8').split('\n')[0]);
      return Number.isInteger(pid) && pid > 0 && processAlive(pid) ? pid : undefined;
    },
  };
}

export const postgres: Server = {
  name: 'postgres',
  port: postgresPort(),
  logPath: join(logDir, 'postgres.log'),
  pidPath: pidFile('postgres'),
  isUp: () => portAnswers(postgresPort()),
  async start() {
    const cluster = postgresCluster(join(dataDir, 'postgres'), postgresPort(), join(logDir, 'postgres.log'));
    cluster.start();
    writeFileSync(pidFile('postgres'), `${cluster.pid() ?? ''}\n`);
  },
};

export const servers: readonly Server[] = [postgres, clickhouse, kafka];

/** Stops a server we started (by the pid we recorded) and waits for it to exit. */
export async function stopServer(server: Server, timeoutMs = 30_000): Promise<'stopped' | 'not ours' | 'already stopped'> {
  const pid = readPid(server);
  if (pid === undefined) return 'not ours';
  if (!processAlive(pid)) {
    rmSync(server.pidPath, { force: true });
    return 'already stopped';
  }
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + timeoutMs;
  while (processAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (processAlive(pid)) process.kill(pid, 'SIGKILL');
  rmSync(server.pidPath, { force: true });
  return 'stopped';
}
