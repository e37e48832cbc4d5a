/**
 * usage-ingest: every decision, completion and ledger event in ClickHouse, exactly once, with rollups for analysts
 * and the abuse signals load-feedback reads. HTTP serves health, readiness and metrics only.
 */
import { Module } from '@nestjs/common';
import { SOURCES } from '@access/contracts';
import { bootService } from '@access/platform-bootstrap';
import { ServiceShellModule, openApiDocument } from '@access/platform-http';
import { ingestEnvSchema } from './config';
import { createIngest } from './ingest';

/** How often the lag gauge is refreshed from the broker. */
const lagRefreshIntervalMs = 10_000;

async function main(): Promise<void> {
  const boot = await bootService('usage-ingest', ingestEnvSchema);
  const ingest = createIngest(boot.env, boot.logger, boot.metrics);
  boot.ready('kafka', () => ingest.producer.isConnected);
  boot.ready('clickhouse', () => ingest.store.ping());
  boot.ready('consumers', () => ingest.sink.isAssigned);

  @Module({ imports: [ServiceShellModule.forRoot(boot.shell(openApiDocument('usage-ingest', '1', [])))] })
  class AppModule {}

  boot.logger.info({ source: SOURCES.usageIngest }, 'starting');
  boot.onStop('ingest', () => ingest.stop());
  await boot.startOrExit('the sink', () => ingest.start());
  boot.every('lag', lagRefreshIntervalMs, () => ingest.sink.updateLag(ingest.admin));
  await boot.serve(AppModule, { port: boot.env.USAGE_INGEST_PORT });
}

void main();
