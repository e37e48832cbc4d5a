/**
 * load-feedback: tunes the load multiplier of every (model, plan, priority) from fleet load and demand,
 * and every user's reputation factor from usage history. Wiring only: configuration (validated at
 * boot), Kafka, ClickHouse, metrics, the shell (health, readiness, metrics) and `GET /v1/limits`. See
 * docs/load-feedback.md.
 */
import { Module } from '@nestjs/common';
import { SOURCES } from '@access/contracts';
import { Clickhouse } from '@access/platform-clickhouse';
import { kafkaBrokers } from '@access/platform-config';
import { ServiceShellModule, createRuntime, openApiDocument, serve } from '@access/platform-http';
import { connectKafkaOrExit, errorMessage } from '@access/platform-kafka';
import { feedbackEnvSchema, loadFeedbackConfig, topicsFromEnv } from './config';
import { LimitsController, limitsOperation } from './limits.controller';
import { LoadFeedbackService } from './service';

async function main(): Promise<void> {
  const rt = await createRuntime('load-feedback', feedbackEnvSchema);
  const { env, logger } = rt;
  const loaded = loadFeedbackConfig(env.ACCESS_CONFIG_DIR, env);
  if (!loaded.ok) {
    process.stderr.write(`Invalid load-feedback configuration in ${env.ACCESS_CONFIG_DIR}:\n  ${loaded.problems.join('\n  ')}\n`);
    process.exit(1);
  }
  const { kafka, admin, producer } = await connectKafkaOrExit({ brokers: kafkaBrokers(env), clientId: 'load-feedback', logger });
  const clickhouse = new Clickhouse({ url: env.CLICKHOUSE_URL, database: env.CLICKHOUSE_DATABASE });
  const service = new LoadFeedbackService({
    config: loaded.config,
    topics: topicsFromEnv(env),
    kafka,
    admin,
    producer,
    clickhouse,
    logger,
    metrics: rt.metrics,
    reputationIntervalMs: env.LOAD_FEEDBACK_REPUTATION_INTERVAL_MS,
    restoreTimeoutMs: env.LOAD_FEEDBACK_RESTORE_TIMEOUT_MS,
  });
  rt.readiness.add({ name: 'kafka', check: () => producer.isConnected });
  rt.readiness.add({ name: 'clickhouse', check: () => clickhouse.ping() });
  rt.readiness.add({ name: 'controller', check: () => service.isReady });

  @Module({
    imports: [ServiceShellModule.forRoot(rt.shell(openApiDocument('load-feedback', '1', [limitsOperation])))],
    controllers: [LimitsController],
    providers: [{ provide: LoadFeedbackService, useValue: service }],
  })
  class AppModule {}

  logger.info({ source: SOURCES.loadFeedback, tickIntervalMs: loaded.config.tickIntervalMs, models: loaded.config.models }, 'starting');
  await serve(AppModule, {
    name: 'load-feedback',
    port: env.LOAD_FEEDBACK_PORT,
    logger,
    onShutdown: async () => {
      await service.stop().catch((error: unknown) => logger.warn({ err: errorMessage(error) }, 'stopping the controller'));
      await producer.disconnect();
      await admin.disconnect();
      await clickhouse.close();
      await rt.close();
    },
  });
  try {
    await service.start();
  } catch (error) {
    logger.fatal({ err: errorMessage(error) }, 'cannot resume from Kafka (are the topics created? npm run infra:up)');
    process.exit(1);
  }
  logger.info('ready');
}

void main();
