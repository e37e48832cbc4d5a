/**
 * load-feedback: tunes limit multipliers from fleet load and demand, and user reputation from usage history.
 */
import { Module } from '@nestjs/common';
import { SOURCES } from '@access/contracts';
import { EventProducer, createKafka } from '@access/platform-kafka';
import { Clickhouse } from '@access/platform-clickhouse';
import { kafkaBrokers } from '@access/platform-config';
import { ServiceShellModule, createRuntime, openApiDocument, serve } from '@access/platform-http';

async function main(): Promise<void> {
  const rt = await createRuntime('load-feedback');
  const kafka = createKafka({ brokers: kafkaBrokers(rt.env), clientId: 'load-feedback', log: (level, msg, extra) => rt.logger[level](extra, msg) });
  const producer = new EventProducer(kafka);
  await producer.connect();
  const clickhouse = new Clickhouse({ url: rt.env.CLICKHOUSE_URL, database: rt.env.CLICKHOUSE_DATABASE });
  rt.readiness.add({ name: 'kafka', check: () => producer.isConnected });
  rt.readiness.add({ name: 'clickhouse', check: () => clickhouse.ping() });

  @Module({ imports: [ServiceShellModule.forRoot(rt.shell(openApiDocument('load-feedback', '1', [])))] })
  class AppModule {}

  rt.logger.info({ source: SOURCES.loadFeedback }, 'starting');
  await serve(AppModule, {
    name: 'load-feedback',
    port: rt.env.LOAD_FEEDBACK_PORT,
    logger: rt.logger,
    onShutdown: async () => {
      await producer.disconnect();
      await clickhouse.close();
      await rt.close();
    },
  });
}

void main();
