/**
 * credit-ledger: the money. An append-only, event-sourced credit log in Postgres with an outbox to Kafka.
 */
import { Module } from '@nestjs/common';
import { SOURCES } from '@access/contracts';
import { EventProducer, createKafka } from '@access/platform-kafka';
import { kafkaBrokers } from '@access/platform-config';
import { ServiceShellModule, createRuntime, openApiDocument, serve } from '@access/platform-http';

async function main(): Promise<void> {
  const rt = await createRuntime('credit-ledger');
  const kafka = createKafka({ brokers: kafkaBrokers(rt.env), clientId: 'credit-ledger', log: (level, msg, extra) => rt.logger[level](extra, msg) });
  const producer = new EventProducer(kafka);
  await producer.connect();
  rt.readiness.add({ name: 'kafka', check: () => producer.isConnected });

  @Module({ imports: [ServiceShellModule.forRoot(rt.shell(openApiDocument('credit-ledger', '1', [])))] })
  class AppModule {}

  rt.logger.info({ source: SOURCES.creditLedger }, 'starting');
  await serve(AppModule, {
    name: 'credit-ledger',
    port: rt.env.LEDGER_PORT,
    logger: rt.logger,
    onShutdown: async () => {
      await producer.disconnect();
      await rt.close();
    },
  });
}

void main();
