/**
 * traffic-simulator: internal services sending a realistic workload to admission and the ledger over
 * their public HTTP contracts. Runs until SIGINT/SIGTERM (or TRAFFIC_DURATION_S), then cancels what is
 * still running and exits.
 *
 *   npx tsx tools/traffic-simulator/src/main.ts           a plain summary line every 10 s
 *   npx tsx tools/traffic-simulator/src/main.ts --json    one JSON stats line per second (npm start reads it)
 *
 * The token is ACCESS_TOKEN, or the development token `npm start` keeps in .local/dev-token.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { commonEnvSchema, loadEnvOrExit, repoRoot } from '@access/platform-config';
import { TrafficDriver } from './driver';
import { OUTCOMES, type SimStats } from './workload';

const envSchema = commonEnvSchema.extend({
  ACCESS_TOKEN: z.string().min(1).optional(),
  /** The global cap on admission requests per second (the machine is small; the workload averages ~10/s). */
  TRAFFIC_RATE_MAX: z.coerce.number().positive().max(10_000).default(25),
  TRAFFIC_SEED: z.coerce.number().int().min(0).max(2 ** 31 - 1).optional(),
  /** Prefix of every account and request id; a fresh one per run gives fresh accounts and allowances. */
  TRAFFIC_RUN_ID: z.string().regex(/^[A-Za-z0-9]{1,24}$/).optional(),
  /** Stop by itself after this many seconds (0: run until a signal). */
  TRAFFIC_DURATION_S: z.coerce.number().int().min(0).max(7 * 86_400).default(0),
});

function token(env: z.infer<typeof envSchema>): string {
  if (env.ACCESS_TOKEN !== undefined) return env.ACCESS_TOKEN;
  const file = join(repoRoot, '.local', 'dev-token');
  if (!existsSync(file)) {
    process.stderr.write(`no token: set ACCESS_TOKEN or run npm start once (it writes ${file})\n`);
    process.exit(1);
  }
  return readFileSync(file, 'utf8').trim();
}

function plainLine(stats: SimStats, nowMs: number): string {
  const counts = OUTCOMES.map((o) => `${o}=${stats.counts[o]}`).join(' ');
  return `[traffic ${Math.round((nowMs - stats.startedAtMs) / 1000)}s] sent=${stats.sentRequests} capped=${stats.cappedRequests} running=${stats.running} completed=${stats.completionsSent} ${counts}`;
}

async function main(): Promise<void> {
  const env = loadEnvOrExit(envSchema);
  const json = process.argv.includes('--json');
  const startMs = Date.now();
  const runId = env.TRAFFIC_RUN_ID ?? startMs.toString(36);
  const log = (line: string) => (json ? process.stderr.write(`${line}\n`) : process.stdout.write(`${line}\n`));
  const driver = new TrafficDriver({
    admissionUrl: `http://127.0.0.1:${env.ADMISSION_PORT}`,
    ledgerUrl: `http://127.0.0.1:${env.LEDGER_PORT}`,
    token: token(env),
    runId,
    seed: env.TRAFFIC_SEED ?? startMs % 2 ** 31,
    ratePerSecond: env.TRAFFIC_RATE_MAX,
    log,
  });

  let stopping = false;
  const stop = async (why: string) => {
    if (stopping) return;
    stopping = true;
    log(`traffic simulator stopping (${why}); cancelling ${driver.stats.running} running requests`);
    await driver.stop();
    report();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));

  const report = () => {
    if (json) process.stdout.write(`${JSON.stringify({ type: 'stats', runId, atMs: Date.now(), accounts: driver.accounts, stats: driver.stats })}\n`);
    else log(plainLine(driver.stats, Date.now()));
  };
  try {
    await driver.setup();
  } catch (error) {
    log(`setup failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
  if (stopping) return;
  driver.start();
  log(`traffic simulator running (run ${runId}, cap ${env.TRAFFIC_RATE_MAX} requests/s)`);
  setInterval(report, json ? 1_000 : 10_000);
  if (env.TRAFFIC_DURATION_S > 0) setTimeout(() => void stop('duration reached'), env.TRAFFIC_DURATION_S * 1000);
}

void main();
