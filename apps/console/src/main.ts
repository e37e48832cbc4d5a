/**
 * console: the operator console in the browser (CONSOLE_PORT, default 7500). Wiring only: configuration
 * (validated at boot), the read-only ClickHouse connection (analyst), the dead-letter tail and the producer
 * that redrives, the /metrics sampler, and the shell (health, readiness, metrics, the scope guard).
 * See apps/console/README.md.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Module } from '@nestjs/common';
import { parsePlans } from '@access/catalog';
import { Clickhouse } from '@access/platform-clickhouse';
import { kafkaBrokers } from '@access/platform-config';
import { ServiceShellModule, createRuntime, openApiDocument, serve } from '@access/platform-http';
import { connectKafkaOrExit, errorMessage } from '@access/platform-kafka';
import { assetsController, loadAssets } from './assets.controller';
import { consoleEnvSchema } from './config';
import { CONSOLE_DEPENDENCIES, ConsoleController, type ConsoleDependencies } from './console.controller';
import { DeadLetterTail } from './deadletter-tail';
import { consoleLimits } from './limits';
import { consoleOperations } from './openapi';
import { OpsMetrics } from './ops-metrics';

async function main(): Promise<void> {
  const rt = await createRuntime('console', consoleEnvSchema, { poolSizeMax: 1 });
  const { env, logger } = rt;
  const plans = parsePlans(readFileSync(join(env.ACCESS_CONFIG_DIR, 'plans.yaml'), 'utf8'));
  if (!plans.ok) {
    process.stderr.write(`Invalid plans.yaml in ${env.ACCESS_CONFIG_DIR}:\n  ${plans.errors.map((e) => `${e.path}: ${e.message}`).join('\n  ')}\n`);
    process.exit(1);
  }
  const assets = loadAssets();
  const { kafka, admin, producer } = await connectKafkaOrExit({ brokers: kafkaBrokers(env), clientId: 'console', logger });
  const clickhouse = new Clickhouse({
    url: env.CLICKHOUSE_URL,
    database: env.CLICKHOUSE_DATABASE,
    username: env.CONSOLE_CLICKHOUSE_USER,
    password: env.CONSOLE_CLICKHOUSE_PASSWORD,
    requestTimeoutMs: consoleLimits.upstreamTimeoutMs * 2,
  });
  const deadLetters = new DeadLetterTail(kafka, admin, env.CONSOLE_TOPIC_DEADLETTER);
  const ops = new OpsMetrics({ admission: env.ADMISSION_PORT, ledger: env.LEDGER_PORT, ingest: env.USAGE_INGEST_PORT });
  rt.readiness.add({ name: 'kafka', check: () => producer.isConnected });
  rt.readiness.add({ name: 'clickhouse', check: () => clickhouse.ping() });
  rt.readiness.add({ name: 'deadletters', check: () => deadLetters.isRunning });

  const deps: ConsoleDependencies = {
    clickhouse,
    producer,
    deadLetters,
    ops,
    plans: plans.value.plans,
    ledgerUrl: `http://127.0.0.1:${env.LEDGER_PORT}`,
    loadFeedbackUrl: `http://127.0.0.1:${env.LOAD_FEEDBACK_PORT}`,
  };

  @Module({
    imports: [ServiceShellModule.forRoot(rt.shell(openApiDocument('console', '1', consoleOperations)))],
    controllers: [ConsoleController, assetsController(assets)],
    providers: [{ provide: CONSOLE_DEPENDENCIES, useValue: deps }],
  })
  class AppModule {}

  await serve(AppModule, {
    name: 'console',
    port: env.CONSOLE_PORT,
    logger,
    onShutdown: async () => {
      ops.stop();
      await deadLetters.stop().catch((error: unknown) => logger.warn({ err: errorMessage(error) }, 'stopping the dead-letter tail'));
      await producer.disconnect();
      await admin.disconnect();
      await clickhouse.close();
      await rt.close();
    },
  });
  ops.start();
  try {
    await deadLetters.start();
  } catch (error) {
    logger.fatal({ err: errorMessage(error), topic: env.CONSOLE_TOPIC_DEADLETTER }, 'cannot read the dead-letter topic (is the stack up? npm run infra:up)');
    process.exit(1);
  }
  logger.info({ url: `http://127.0.0.1:${env.CONSOLE_PORT}/` }, 'ready');
}

void main();
