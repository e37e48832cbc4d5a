/**
 * usage-ingest: every decision, completion and ledger event in ClickHouse, exactly once.
 */
import { Module } from '@nestjs/common';
import { SOURCES } from '@access/contracts';
import { EventProducer, createKafka } from '@access/platform-kafka';
import { Clickhouse } from '@access/platform-clickhouse';
import { kafkaBrokers } from '@access/platform-config';
import { ServiceShellModule, createRuntime, openApiDocument, serve } from '@access/platform-http';

async function main(): Promise<void> {
  const rt = await createRuntime('usage-ingest');
  const kafka = createKafka({ brokers: kafkaBrokers(rt.env), clientId: 'usage-ingest', log: (level, msg, extra) => rt.logger[level](extra, msg) });
  const producer = new EventProducer(kafka);
  await producer.connect();
  const clickhouse = new Clickhouse({ url: rt.env.CLICKHOUSE_URL, database: rt.env.CLICKHOUSE_DATABASE });
  rt.readiness.add({ name: 'kafka', check: () => producer.isConnected });
  rt.readiness.add({ name: 'clickhouse', check: () => clickhouse.ping() });

  @Module({ imports: [ServiceShellModule.forRoot(rt.shell(openApiDocument('usage-ingest', '1', [])))] })
  class AppModule {}

  rt.logger.info({ source: SOURCES.usageIngest }, 'starting');
  await serve(AppModule, {
    name: 'usage-ingest',
    port: rt.env.USAGE_INGEST_PORT,
    logger: rt.logger,
    onShutdown: async () => {
      await producer.disconnect();
      await clickhouse.close();
      await rt.close();
    },
  });
}

void main();
