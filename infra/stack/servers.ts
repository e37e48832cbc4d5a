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

export const repoRoot = join(__dirname, '..', '..');
export const localDir = process.env.ACCESS_LOCAL_DIR ?? join(repoRoot, '.local');
export const dataDir = join(localDir, 'data');
export const logDir = join(localDir, 'logs');
export const runDir = join(localDir, 'run');

export type ServerName = 'postgres' | 'clickhouse' | 'kafka';

export interface Server {
  readonly name: ServerName;
  readonly port: number;
  readonly logPath: string;
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

export function readPid(name: ServerName): number | undefined {
  const file = pidFile(name);
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

function spawnDetached(name: ServerName, command: string, args: string[], logPath: string, env: NodeJS.ProcessEnv = process.env): number {
  const out = openSync(logPath, 'a');
  const child = spawn(command, args, { detached: true, stdio: ['ignore', out, out], env });
  closeSync(out);
  if (child.pid === undefined) throw new Error(`${name}: could not spawn ${command}`);
  child.unref();
  writeFileSync(pidFile(name), `${child.pid}\n`);
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
const kafkaData = join(dataDir, 'kafka');
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

function kafkaJava(mainClass: string, args: string[]): string[] {
  return [
    '-Xmx512m',
    '-Xms256m',
    '-XX:+UseG1GC',
    '-Djava.awt.headless=true',
    `-Dlog4j2.configurationFile=${join(repoRoot, 'infra', 'kafka', 'log4j2.properties')}`,
    `-Dkafka.log.file=${join(logDir, 'kafka.log')}`,
    '-cp',
    `${kafkaLibs}/*`,
    mainClass,
    ...args,
  ];
}

export const kafka: Server = {
  name: 'kafka',
  port: 9092,
  logPath: join(logDir, 'kafka.log'),
  isUp: () => portAnswers(9092),
  async start() {
    ensureKafkaJars();
    const properties = join(kafkaHome, 'server.properties');
    const template = readFileSync(join(repoRoot, 'infra', 'kafka', 'server.properties'), 'utf8');
    writeFileSync(properties, template.replaceAll('@DATA_DIR@', kafkaData));
    if (!existsSync(join(kafkaData, 'meta.properties'))) {
      // First start: format the KRaft storage with a fresh cluster id.
      mkdirSync(kafkaData, { recursive: true });
      execFileSync('java', kafkaJava('kafka.tools.StorageTool', ['format', '-t', kafkaClusterId(), '-c', properties]), {
        stdio: ['ignore', 'ignore', 'inherit'],
      });
    }
    spawnDetached('kafka', 'java', kafkaJava('kafka.Kafka', [properties]), join(logDir, 'kafka.out.log'));
  },
};

/** A KRaft cluster id is 16 random bytes in URL-safe base64 without padding. */
function kafkaClusterId(): string {
  return Buffer.from(randomUUID().replaceAll('-', ''), 'hex').toString('base64url');
}

// ---------------------------------------------------------------------------------------------------------------------
// ClickHouse: Debian's clickhouse-server, installed when missing, with the config kept in infra/clickhouse.

const clickhouseData = join(dataDir, 'clickhouse');
const clickhouseConf = join(localDir, 'clickhouse-conf');

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

export const clickhouse: Server = {
  name: 'clickhouse',
  port: 8123,
  logPath: join(logDir, 'clickhouse.err.log'),
  isUp: () => portAnswers(8123),
  async start() {
    ensureClickhouseInstalled();
    mkdirSync(clickhouseData, { recursive: true });
    copyTree(join(repoRoot, 'infra', 'clickhouse'), clickhouseConf, (text) =>
      text.replaceAll('@DATA_DIR@', clickhouseData).replaceAll('@LOG_DIR@', logDir).replaceAll('@CONF_DIR@', clickhouseConf),
    );
    spawnDetached('clickhouse', 'clickhouse-server', [`--config-file=${join(clickhouseConf, 'config.xml')}`], join(logDir, 'clickhouse.out.log'));
  },
};

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
  const pid = readPid(server.name);
  if (pid === undefined) return 'not ours';
  if (!processAlive(pid)) {
    rmSync(pidFile(server.name), { force: true });
    return 'already stopped';
  }
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + timeoutMs;
  while (processAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (processAlive(pid)) process.kill(pid, 'SIGKILL');
  rmSync(pidFile(server.name), { force: true });
  return 'stopped';
}
