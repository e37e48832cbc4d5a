/**
 * The sink alone, without HTTP or Postgres: for running ingestion as a child process (the crash test kills it with
 * SIGKILL) and for the benchmark. Configured by the same environment as the service (config.ts). SIGTERM finishes
 * the batch in hand, commits it, and exits 0.
 */
import { loadEnvOrExit } from '@access/platform-config';
import { createLogger } from '@access/platform-observability';
import { ingestEnvSchema } from './config';
import { createIngest } from './ingest';

async function main(): Promise<void> {
  const env = loadEnvOrExit(ingestEnvSchema);
  const logger = createLogger('usage-ingest-worker', env.LOG_LEVEL);
  const ingest = createIngest(env, logger);
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    await ingest.stop();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
  await ingest.start();
  // Tells a parent process (tests, benchmark) that the consumers are in their groups.
  const ready = setInterval(() => {
    if (ingest.sink.isAssigned) {
      clearInterval(ready);
      process.stdout.write(`${JSON.stringify({ msg: 'usage-ingest worker ready', pid: process.pid })}\n`);
    }
  }, 50);
}

main().catch((error: unknown) => {
  process.stderr.write(`usage-ingest worker failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
