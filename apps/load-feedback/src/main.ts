/**
 * load-feedback: tunes the load multiplier of every (model, plan, priority) from fleet load and demand,
 * and every user's reputation factor from usage history. Wiring only: configuration (validated at
 * boot), Kafka, ClickHouse, metrics, the shell (health, readiness, metrics) and `GET /v1/limits`. See
 * docs/load-feedback.md.
 */
import { Module } from '@nestjs/common';
import { SOURCES } from '@access/contracts';
import { kafkaFeedbackPorts } from '@access/load-feedback-adapters';
import { LoadFeedbackService } from '@access/load-feedback-application';
import { ConfigProblems, bootService } from '@access/platform-bootstrap';
import { Clickhouse } from '@access/platform-clickhouse';
import { ServiceShellModule, openApiDocument } from '@access/platform-http';
import { feedbackEnvSchema, loadFeedbackConfig, topicsFromEnv } from './config';
import { LimitsController, limitsOperation } from './limits.controller';

async function main(): Promise<void> {
  const boot = await bootService('load-feedback', feedbackEnvSchema);
  const { env, logger } = boot;
  const config = boot.configOrExit(`load-feedback configuration in ${env.ACCESS_CONFIG_DIR}`, () => {
    const loaded = loadFeedbackConfig(env.ACCESS_CONFIG_DIR, env);
    if (!loaded.ok) throw new ConfigProblems(loaded.problems);
    return loaded.config;
  });
  const { kafka, admin, producer } = await boot.connectKafka();
  const clickhouse = new Clickhouse({ url: env.CLICKHOUSE_URL, database: env.CLICKHOUSE_DATABASE });
  boot.onStop('clickhouse', () => clickhouse.close());
  const ports = kafkaFeedbackPorts({
    kafka,
    admin,
    producer,
    clickhouse,
    topics: topicsFromEnv(env),
    restoreTimeoutMs: env.LOAD_FEEDBACK_RESTORE_TIMEOUT_MS,
    onDeadLetter: (message, reason) => {
      service.deadLettered();
      logger.warn({ topic: message.topic, partition: message.partition, offset: message.offset, reason }, 'dead-lettered a message');
    },
  });
  const service = new LoadFeedbackService({ config, ports, logger, metrics: boot.metrics, reputationIntervalMs: env.LOAD_FEEDBACK_REPUTATION_INTERVAL_MS });
  boot.onStop('controller', () => service.stop());
  boot.ready('kafka', () => producer.isConnected);
  boot.ready('clickhouse', () => clickhouse.ping());
  boot.ready('controller', () => service.isReady);

  @Module({
    imports: [ServiceShellModule.forRoot(boot.shell(openApiDocument('load-feedback', '1', [limitsOperation])))],
    controllers: [LimitsController],
    providers: [{ provide: LoadFeedbackService, useValue: service }],
  })
  class AppModule {}

  logger.info({ source: SOURCES.loadFeedback, tickIntervalMs: config.tickIntervalMs, models: config.models }, 'starting');
  await boot.serve(AppModule, { port: env.LOAD_FEEDBACK_PORT });
  await boot.startOrExit('the controller from Kafka (are the topics created? npm run infra:up)', () => service.start());
  logger.info('ready');
}

void main();
