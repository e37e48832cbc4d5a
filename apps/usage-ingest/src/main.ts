/**
 * usage-ingest: every decision, completion and ledger event in ClickHouse, exactly once, with rollups for analysts
 * and the abuse signals load-feedback reads. HTTP serves health, readiness and metrics only.
 */
import { Module } from '@nestjs/common';
import { SOURCES } from '@access/contracts';
import { ServiceShellModule, createRuntime, openApiDocument, serve } from '@access/platform-http';
import { ingestEnvSchema } from './config';
import { createIngest } from './ingest';

/** How often the lag gauge is refreshed from the broker. */
const lagRefreshIntervalMs = 10_000;

async function main(): Promise<void> {
  const rt = await createRuntime('usage-ingest', ingestEnvSchema);
  const ingest = createIngest(rt.env, rt.logger, rt.metrics);
  rt.readiness.add({ name: 'kafka', check: () => ingest.producer.isConnected });
  rt.readiness.add({ name: 'clickhouse', check: () => ingest.store.ping() });
  rt.readiness.add({ name: 'consumers', check: () => ingest.sink.isAssigned });

  @Module({ imports: [ServiceShellModule.forRoot(rt.shell(openApiDocument('usage-ingest', '1', [])))] })
  class AppModule {}

  rt.logger.info({ source: SOURCES.usageIngest }, 'starting');
  await ingest.start();
  const lagTimer = setInterval(() => {
    ingest.sink.updateLag(ingest.admin).catch((error: unknown) => rt.logger.warn({ err: String(error) }, 'lag refresh failed'));
  }, lagRefreshIntervalMs);
  lagTimer.unref();

  await serve(AppModule, {
    name: 'usage-ingest',
    port: rt.env.USAGE_INGEST_PORT,
    logger: rt.logger,
    onShutdown: async () => {
      clearInterval(lagTimer);
      await ingest.stop();
      await rt.close();
    },
  });
}

void main();
