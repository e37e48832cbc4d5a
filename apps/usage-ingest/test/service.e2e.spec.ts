import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS, goldenEvent, newEventId } from '@access/contracts';
import { encodeEvent, sleep } from '@access/platform-kafka';
import { requireStack } from '@access/testing';
import { createRun, repoRoot, storedRows, type IngestRun } from './harness';

// The service as it runs in production (main.ts: Nest shell, health, metrics, JSON logs), on its own database and
// topics, driven through Kafka and its HTTP endpoints.
describe('usage-ingest service', () => {
  let run: IngestRun;
  const port = 17_300 + Math.floor(Math.random() * 500);
  const base = `http://127.0.0.1:${port}`;
  let service: ReturnType<typeof spawn>;
  let stdout = '';
  let exited: Promise<number | null>;

  beforeAll(async () => {
    run = await createRun(await requireStack(['kafka', 'clickhouse', 'postgres']));
    service = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'apps', 'usage-ingest', 'src', 'main.ts')], {
      cwd: repoRoot,
      env: { ...process.env, ...run.workerEnv, USAGE_INGEST_PORT: String(port), LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    service.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    exited = new Promise((resolve) => service.once('exit', (code) => resolve(code)));
    const deadline = Date.now() + 60_000;
    for (;;) {
      const ready = await fetch(`${base}/health/ready`).then((r) => r.status, () => 0);
      if (ready === 200) break;
      if (Date.now() > deadline) throw new Error(`service not ready: ${stdout.slice(-2_000)}`);
      await sleep(200);
    }
  });
  afterAll(async () => {
    if (service.exitCode === null) service.kill('SIGKILL');
    await run?.close();
  });

  it('is live and ready once its consumers are assigned and ClickHouse answers', async () => {
    expect((await fetch(`${base}/health/live`)).status).toBe(200);
    const ready = (await (await fetch(`${base}/health/ready`)).json()) as { checks: Record<string, boolean> };
    expect(ready.checks).toMatchObject({ kafka: true, clickhouse: true, consumers: true, postgres: true });
  });

  it('ingests events and reports them in its metrics', async () => {
    const event = { ...goldenEvent(EVENTS.usageRequestCompleted), id: newEventId() };
    await run.producer.send(encodeEvent(event, run.topics.request_usage));
    await run.producer.send({ topic: run.topics.request_usage, key: 'acct-7', value: 'not json' });
    const deadline = Date.now() + 30_000;
    while ((await storedRows(run.ch, run.database)) < 1 && Date.now() < deadline) await sleep(100);
    expect(await storedRows(run.ch, run.database)).toBe(1);
    // The row is visible the moment ClickHouse has it; the counters move just after: wait for both.
    const inserted = /usage_ingest_rows_inserted_total\{[^}]*table="request_usage"[^}]*\} 1/;
    const deadLettered = /usage_ingest_dead_letters_total\{[^}]*\} 1/;
    let metrics = '';
    while (!(inserted.test(metrics) && deadLettered.test(metrics)) && Date.now() < deadline) {
      metrics = await (await fetch(`${base}/metrics`)).text();
      await sleep(100);
    }
    expect(metrics).toMatch(inserted);
    expect(metrics).toMatch(deadLettered);
  });

  it('writes JSON logs and stops cleanly on SIGTERM', async () => {
    const lines = stdout.split('\n').filter((l) => l.trim() !== '');
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
    service.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
