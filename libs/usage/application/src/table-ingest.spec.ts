/** TableIngest against an in-memory store: exactly once across redeliveries, restarts and store failures; dead letters; the allowance split. */
import { describe, expect, it } from 'vitest';
import { EVENTS, goldenEvent, newEventId, type AnyAccessEvent } from '@access/contracts';
import { NonRetriableError, RetriableError, isRetriable } from '@access/platform-kafka';
import { defaultIngestLimits, dedupeKeyOf, type IngestTable } from '@access/usage-domain';
import type { IngestEvent, IngestObserver, PartitionWatermark, UsageStorePort } from './ports';
import { TableIngest } from './table-ingest';

const nowMs = Date.parse('2026-11-25T10:01:00.000Z');
const quiet: IngestObserver = {
  skipped: () => undefined, lookedUp: () => undefined, inserted: () => undefined, batchDone: () => undefined,
  recovered: () => undefined, retentionDropped: () => undefined, retentionFailed: () => undefined,
};

class StoreDown extends Error {}
class Refused extends Error {}

/** Rows as ClickHouse would hold them, keyed as the real store keys them (dedupeKeyOf). */
class MemoryStore implements UsageStorePort {
  readonly rows: Record<string, unknown>[] = [];
  down = false;
  refuse = false;
  keyOf = new Map<Record<string, unknown>, string>();

  write(table: IngestTable, lines: readonly string[], keys: Map<string, string>): void {
    if (this.down) throw new StoreDown('connect ECONNREFUSED');
    if (this.refuse) throw new Refused('CANNOT_PARSE_TEXT');
    for (const line of lines) {
      const row: Record<string, unknown> = { ...(JSON.parse(line) as Record<string, unknown>), table };
      this.keyOf.set(row, keys.get(row.event_id as string)!);
      this.rows.push(row);
    }
  }
  of(table: IngestTable): Record<string, unknown>[] {
    return this.rows.filter((r) => r.table === table);
  }
  async watermarks(table: IngestTable, topic: string, partitions: readonly number[]): Promise<Map<number, PartitionWatermark>> {
    if (this.down) throw new StoreDown('down');
    return new Map(
      partitions.map((p) => {
        const mine = this.of(table).filter((r) => r.kafka_topic === topic && r.kafka_partition === p);
        return [p, { watermark: mine.reduce((m, r) => (BigInt(r.kafka_offset as string) > m ? BigInt(r.kafka_offset as string) : m), -1n), rows: mine.length }];
      }),
    );
  }
  async recentKeys(table: IngestTable, topic: string, partition: number, afterOffset: bigint) {
    return this.of(table)
      .filter((r) => r.kafka_topic === topic && r.kafka_partition === partition && BigInt(r.kafka_offset as string) > afterOffset)
      .map((r) => ({ key: this.keyOf.get(r)!, timestampMs: r.kafka_timestamp_ms as number }));
  }
  async existingKeys(table: IngestTable, lookup: { keys: readonly string[] }) {
    const stored = new Set(this.of(table).map((r) => this.keyOf.get(r)));
    return new Set(lookup.keys.filter((k) => stored.has(k)));
  }
  async decisionAllowances(lookup: { admissionIds: readonly string[] }) {
    const out = new Map<string, number>();
    for (const r of this.of('admission_decisions')) {
      if (r.decision === 'admitted' && lookup.admissionIds.includes(r.admission_id as string)) out.set(r.admission_id as string, r.allowance_credits as number);
    }
    return out;
  }
  async dropExpired() {
    return [];
  }
  isRetriable(error: unknown): boolean {
    return !(error instanceof Refused);
  }
}

let offset = 0;
function consumed(event: AnyAccessEvent, topic = 'ledger', partition = 0): IngestEvent {
  offset += 1;
  return { event, topic, partition, offset: String(offset), timestampMs: nowMs };
}
function granted(): AnyAccessEvent {
  return { ...goldenEvent(EVENTS.creditsGranted), id: newEventId() };
}

function ingest(store: MemoryStore, table: IngestTable, extra: { behind?: boolean } = {}) {
  const deadLetters: { consumed: IngestEvent; reason: string }[] = [];
  const keys = new Map<string, string>();
  const sink = new TableIngest<IngestEvent>({
    table,
    store,
    writer: { write: async (lines) => store.write(table, lines, keys) },
    price: () => ({ ok: true, credits: 160 }),
    limits: defaultIngestLimits,
    observer: quiet,
    deadLetter: async (items) => void deadLetters.push(...items),
    decisions: extra.behind === undefined ? undefined : { mayBeBehind: async () => extra.behind! },
    now: () => nowMs,
  });
  const run = (events: IngestEvent[], generation = 1) => {
    for (const e of events) keys.set(e.event.id, dedupeKeyOf(e.event).key);
    return sink.ingest(events, generation);
  };
  return { run, deadLetters };
}

describe('TableIngest', () => {
  it('given a batch redelivered in the same generation, after a rebalance and to a new process, when ingested, then each event is one row', async () => {
    const store = new MemoryStore();
    const batch = [consumed(granted()), consumed(granted()), consumed(granted())];
    const first = ingest(store, 'ledger_entries');
    await first.run(batch);
    await first.run(batch);
    await first.run(batch, 2);
    await ingest(store, 'ledger_entries').run(batch, 1);
    expect(store.of('ledger_entries').map((r) => r.event_id)).toEqual(batch.map((b) => b.event.id));
  });

  it('given the store down during the insert, when the batch is retried after it is back, then nothing is lost or doubled', async () => {
    const store = new MemoryStore();
    const sink = ingest(store, 'ledger_entries');
    await sink.run([consumed(granted())]);
    const batch = [consumed(granted()), consumed(granted())];
    store.down = true;
    const failure = await sink.run(batch).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(RetriableError);
    expect(isRetriable(failure)).toBe(true);
    store.down = false;
    await sink.run(batch);
    expect(store.of('ledger_entries')).toHaveLength(3);
  });

  it('given rows the store refuses, when ingested, then the failure is not retriable (the consumer dead-letters one by one)', async () => {
    const store = new MemoryStore();
    store.refuse = true;
    await expect(ingest(store, 'ledger_entries').run([consumed(granted())])).rejects.toBeInstanceOf(NonRetriableError);
  });

  it('given an event of another table, when ingested, then it is dead-lettered with the reason and the rest is stored', async () => {
    const store = new MemoryStore();
    const sink = ingest(store, 'ledger_entries');
    const stray = consumed({ ...goldenEvent(EVENTS.admissionDecided), id: newEventId() });
    await sink.run([stray, consumed(granted())]);
    expect(sink.deadLetters.map((d) => [d.consumed, d.reason])).toEqual([[stray, `${EVENTS.admissionDecided} is not stored in ledger_entries`]]);
    expect(store.of('ledger_entries')).toHaveLength(1);
  });

  it.each([
    { case: 'its decision is stored with 100 allowance credits', decision: true, behind: false, charged: 60, allowance: 100 },
    { case: 'no decision is stored and the decisions consumer is past it', decision: false, behind: false, charged: 160, allowance: 0 },
  ])('given a completion whose cost is 160 and $case, when ingested, then it is charged $charged', async ({ decision, behind, charged, allowance }) => {
    const store = new MemoryStore();
    const completion = goldenEvent(EVENTS.usageRequestCompleted);
    if (decision) {
      const decided = goldenEvent(EVENTS.admissionDecided);
      decided.data = { ...decided.data, admissionId: completion.data.admissionId, fundedBy: [{ source: 'allowance', window: '5h', credits: 100 }] };
      await ingest(store, 'admission_decisions').run([consumed(decided, 'admissions')]);
    }
    await ingest(store, 'request_usage', { behind }).run([consumed(completion, 'usage')]);
    expect(store.of('request_usage')).toMatchObject([{ admission_id: completion.data.admissionId, charged_credits: charged, allowance_credits: allowance }]);
  });

  it('given a completion whose decision is not stored while the decisions consumer may be behind, when ingested, then it waits (retriable) and stores nothing', async () => {
    const store = new MemoryStore();
    const failure = await ingest(store, 'request_usage', { behind: true }).run([consumed(goldenEvent(EVENTS.usageRequestCompleted), 'usage')]).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(RetriableError);
    expect((failure as Error).message).toContain('waiting for the decisions of 1 completions');
    expect(store.of('request_usage')).toHaveLength(0);
  });
});
