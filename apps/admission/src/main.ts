/**
 * admission: the hot path. Decides, for every request to an expensive model, whether it may run now and who pays.
 */
import { Module } from '@nestjs/common';
import { SOURCES } from '@access/contracts';
import { EventProducer, createKafka } from '@access/platform-kafka';
import { kafkaBrokers } from '@access/platform-config';
import { ServiceShellModule, createRuntime, openApiDocument, serve } from '@access/platform-http';

async function main(): Promise<void> {
  const rt = await createRuntime('admission');
  const kafka = createKafka({ brokers: kafkaBrokers(rt.env), clientId: 'admission', log: (level, msg, extra) => rt.logger[level](extra, msg) });
  const producer = new EventProducer(kafka, { lingerMs: 1 });
  await producer.connect();
  rt.readiness.add({ name: 'kafka', check: () => producer.isConnected });

  @Module({ imports: [ServiceShellModule.forRoot(rt.shell(openApiDocument('admission', '1', [])))] })
  class AppModule {}

  rt.logger.info({ source: SOURCES.admission }, 'starting');
  await serve(AppModule, {
    name: 'admission',
    port: rt.env.ADMISSION_PORT,
    logger: rt.logger,
    onShutdown: async () => {
      await producer.disconnect();
      await rt.close();
    },
  });
}

void main();
