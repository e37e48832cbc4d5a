/**
 * `npm run infra:up | infra:status | infra:down`: the local stack (Kafka, Postgres, ClickHouse) on 127.0.0.1.
 *
 * `up` is idempotent: a server that already answers is reused, so running it twice starts nothing new.
 * It waits for each server to be ready (with a timeout), then creates the topics of the catalog and
 * applies the Postgres and ClickHouse migrations (each applied once and recorded).
 *
 * `provision` does only the second half, against servers someone else runs at KAFKA_BROKERS, DATABASE_URL and
 * CLICKHOUSE_URL (docker-compose.yml runs it once before the services): it waits for them, starts nothing.
 */
import { existsSync } from 'node:fs';
import { ensureDirs, logDir, processAlive, readPid, servers, stopServer, type Server } from './servers';
import { provision, readiness } from './provision';

const readyTimeoutMs = Number(process.env.INFRA_READY_TIMEOUT_MS ?? 120_000);

async function waitReady(server: Server, deadline: number): Promise<void> {
  let lastError = 'no answer';
  while (Date.now() < deadline) {
    const pid = readPid(server);
    if (pid !== undefined && !processAlive(pid)) {
      throw new Error(`${server.name} exited during start-up; see its log: ${server.logPath}`);
    }
    try {
      await readiness[server.name]();
      return;
    } catch (error) {
      lastError = error instanceof Error ? error.message : String(error);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${server.name} was not ready within ${readyTimeoutMs} ms (${lastError}); see its log: ${server.logPath}`);
}

async function up(): Promise<void> {
  ensureDirs();
  const started: string[] = [];
  for (const server of servers) {
    if (await server.isUp()) continue;
    try {
      await server.start();
    } catch (error) {
      throw new Error(`${server.name} failed to start: ${error instanceof Error ? error.message : String(error)}; log: ${server.logPath}`);
    }
    started.push(server.name);
  }
  const deadline = Date.now() + readyTimeoutMs;
  await Promise.all(servers.map((server) => waitReady(server, deadline)));
  const summary = await provision();
  console.log(
    `stack up: ${started.length ? `started ${started.join(', ')}` : 'all servers already running'}; ` +
      `${summary.topicsCreated} topics created, ${summary.postgresMigrations} Postgres and ${summary.clickhouseMigrations} ClickHouse migrations applied`,
  );
}

async function provisionOnly(): Promise<void> {
  const deadline = Date.now() + readyTimeoutMs;
  await Promise.all(
    servers.map(async ({ name }) => {
      for (;;) {
        try {
          return await readiness[name]();
        } catch (error) {
          if (Date.now() > deadline) throw new Error(`${name} was not ready within ${readyTimeoutMs} ms (${error instanceof Error ? error.message : String(error)})`);
        }
        await new Promise((r) => setTimeout(r, 500));
      }
    }),
  );
  const summary = await provision();
  console.log(`provisioned: ${summary.topicsCreated} topics created, ${summary.postgresMigrations} Postgres and ${summary.clickhouseMigrations} ClickHouse migrations applied`);
}

async function status(): Promise<number> {
  let allUp = true;
  for (const server of servers) {
    const up = await server.isUp();
    const pid = readPid(server);
    const owner = pid !== undefined && processAlive(pid) ? `started by this stack, pid ${pid}` : up ? 'external' : '';
    allUp &&= up;
    console.log(`${server.name.padEnd(11)} ${up ? 'up  ' : 'down'}  127.0.0.1:${server.port}  ${owner}${existsSync(server.logPath) ? `  log ${server.logPath}` : ''}`);
  }
  return allUp ? 0 : 1;
}

async function down(): Promise<void> {
  // Kafka first: it may still be flushing consumer offsets; the databases last.
  for (const server of [...servers].reverse()) {
    const result = await stopServer(server);
    console.log(`${server.name.padEnd(11)} ${result}`);
  }
}

async function main(): Promise<void> {
  const command = process.argv[2];
  switch (command) {
    case 'up':
      await up();
      return;
    case 'status':
      process.exitCode = await status();
      return;
    case 'down':
      await down();
      return;
    case 'provision':
      await provisionOnly();
      return;
    default:
      console.error(`usage: stack up | status | down | provision   (logs in ${logDir})`);
      process.exitCode = 2;
  }
}

main().catch((error: unknown) => {
  console.error(`infra: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
