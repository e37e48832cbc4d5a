import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEvent } from '@access/contracts';
import { parsePriceBook, type PriceBook } from '@access/catalog';
import { RawBatchConsumer, sleep } from '@access/platform-kafka';
import { requireStack, testName } from '@access/testing';
import { generateMix, referenceOf, rowsAsStrings } from './events';
import { createRun, outgoing, repoRoot, startWorker, storedRows, waitCaughtUp, type IngestRun, type Worker } from './harness';

const events = Number(process.env.USAGE_INGEST_CRASH_EVENTS ?? 200_000);
const kills = 3;
const seed = Number(process.env.USAGE_INGEST_CRASH_SEED ?? 20261125);

function priceBook(): PriceBook {
  const parsed = parsePriceBook(readFileSync(join(repoRoot, 'config', 'price-book.yaml'), 'utf8'));
  if (!parsed.ok) throw new Error('price book');
  return parsed.value;
}

describe('usage-ingest under SIGKILL, duplicates and poison', () => {
  let run: IngestRun;
  let worker: Worker | undefined;

  beforeAll(async () => {
    run = await createRun(await requireStack(['kafka', 'clickhouse']));
  });
  afterAll(async () => {
    if (worker && worker.process.exitCode === null) {
      worker.process.kill('SIGKILL');
      await worker.exited;
    }
    await run?.close();
  });

  it(`stores ${events} mixed events exactly once (1% duplicated, 0.5% poison, ${kills} SIGKILLs) and dead-letters every poison message`, async () => {
    const mix = generateMix({ events, duplicateRatio: 0.01, poisonRatio: 0.005, seed, startMs: Date.now() - 600_000 });
    const reference = referenceOf(mix.unique, priceBook());
    expect(mix.duplicates).toBeGreaterThan(events * 0.008);
    expect(mix.poisonIds.length).toBeGreaterThan(events * 0.004);

    // Publish in the background, in slices, so that the worker ingests while messages keep arriving.
    const messages = outgoing(run, mix.messages);
    const publishing = (async () => {
      for (let i = 0; i < messages.length; i += 10_000) {
        await run.producer.sendMany(messages.slice(i, i + 10_000));
        await sleep(50);
      }
    })();

    worker = startWorker(run.workerEnv);
    await worker.ready;
    const killedAt: number[] = [];
    for (let k = 1; k <= kills; k++) {
      const threshold = Math.floor((mix.unique.length * k) / (kills + 1.5));
      const deadline = Date.now() + 90_000;
      while ((await storedRows(run.ch, run.database)) < threshold) {
        if (Date.now() > deadline) throw new Error(`no progress to ${threshold} rows: ${worker.stderr().slice(-2_000)}`);
        await sleep(20);
      }
      // Kill while rows are flowing, in the middle of whatever batch is in hand.
      worker.process.kill('SIGKILL');
      expect(await worker.exited).toBe('SIGKILL');
      killedAt.push(await storedRows(run.ch, run.database));
      worker = startWorker(run.workerEnv);
      await worker.ready;
    }
    await publishing;
    await waitCaughtUp(run, 120_000);

    expect(killedAt).toHaveLength(kills);
    for (const rows of killedAt) expect(rows).toBeLessThan(mix.unique.length);
    expect(await storedRows(run.ch, run.database)).toBe(mix.unique.length);
    for (const check of reference.checks) {
      const actual = rowsAsStrings(await run.ch.query<Record<string, string>>(check.sql(`\`${run.database}\``)));
      expect(actual, check.name).toEqual(check.expected);
    }

    // Every poison message is in the dead-letter topic, with its reason.
    const reasons = new Map<string, string>();
    const reader = new RawBatchConsumer(run.kafka, { groupId: testName('dlq'), topics: [run.deadLetterTopic], fromBeginning: true });
    await reader.start(async (batch) => {
      for (const m of batch) {
        const parsed = parseEvent(JSON.parse(m.value!.toString()));
        if (!parsed.ok || parsed.event.type !== 'io.access.deadletter.recorded.v1') continue;
        const value = Buffer.from(parsed.event.data.valueBase64, 'base64').toString();
        const marker = /poison-\d+-\d+/.exec(value)?.[0];
        if (marker) reasons.set(marker, parsed.event.data.error);
      }
    });
    const deadline = Date.now() + 60_000;
    while (reasons.size < mix.poisonIds.length && Date.now() < deadline) await sleep(100);
    await reader.stop();
    expect([...reasons.keys()].sort()).toEqual([...mix.poisonIds].sort());
    for (const reason of reasons.values()) expect(reason.length).toBeGreaterThan(0);

    worker.process.kill('SIGTERM');
    expect(await worker.exited).toBe('0');
  }, 240_000);
});
