import { describe, expect, it } from 'vitest';
import { parsePrometheus } from '@access/platform-observability';
import { decodeValue } from './deadletter-tail';
import { freshnessAt, lagByGroup, type OpsSample } from './ops-metrics';

describe('lag per consumer group', () => {
  it('sums partitions per group from the ledger and ingest gauges, and ignores everything else', () => {
    const samples = parsePrometheus(`
kafka_consumer_lag_messages{group="credit-ledger",topic="a",partition="0",service="credit-ledger"} 3
kafka_consumer_lag_messages{group="credit-ledger",topic="u",partition="5",service="credit-ledger"} 4
usage_ingest_lag_messages{group="usage-ingest.request_usage",topic="u",partition="0",service="usage-ingest"} 10
usage_ingest_lag_messages{topic="u",partition="1",service="usage-ingest"} 99
ledger_outbox_depth_messages{service="credit-ledger"} 7
`);
    expect(lagByGroup(samples)).toEqual({ 'credit-ledger': 7, 'usage-ingest.request_usage': 10 });
  });
});

describe('freshness percentiles over the last minute', () => {
  const buckets = (under10ms: number, under1s: number) => [
    { le: 0.01, count: under10ms },
    { le: 1, count: under10ms + under1s },
    { le: Number.POSITIVE_INFINITY, count: under10ms + under1s },
  ];
  const at = (s: number, b: OpsSample['freshness']): OpsSample => ({ atMs: s * 1000, lag: {}, freshness: b });

  it.each([
    ['only what was observed since the oldest sample within the window counts', [at(0, buckets(1000, 0)), at(30, buckets(1000, 0)), at(60, buckets(1100, 0))], 2, { p50: 0.005, p99: 0.0099 }],
    ['a slow minute shows in p99', [at(0, buckets(0, 0)), at(60, buckets(90, 10))], 1, { p50: 0.0055556, p99: 0.901 }],
    ['no earlier sample in the window: nothing to say', [at(0, buckets(5, 0)), at(200, buckets(9, 0))], 1, { p50: null, p99: null }],
    ['admission did not answer', [at(0, buckets(5, 0)), at(5, undefined)], 1, { p50: null, p99: null }],
    ['nothing observed in the window', [at(0, buckets(5, 0)), at(5, buckets(5, 0))], 1, { p50: null, p99: null }],
  ] as const)('%s', (_name, samples, index, expected) => {
    const q = freshnessAt(samples, index, 60_000);
    for (const k of ['p50', 'p99'] as const) {
      if (expected[k] === null) expect(q[k]).toBeNull();
      else expect(q[k]).toBeCloseTo(expected[k]!, 4);
    }
  });
});

describe('a dead message for people', () => {
  it.each([
    ['JSON is pretty-printed', Buffer.from('{"a":1}'), 'json', '{\n  "a": 1\n}'],
    ['text stays text', Buffer.from('not json'), 'text', 'not json'],
    ['bytes that are not UTF-8 are hex', Buffer.from([0xff, 0xfe, 0x00]), 'hex', 'fffe00'],
    ['control characters are hex', Buffer.from([0x01, 0x41]), 'hex', '0141'],
  ] as const)('%s', (_name, bytes, encoding, text) => {
    expect(decodeValue(bytes.toString('base64'), 1000)).toEqual({ encoding, text, truncated: false });
  });

  it('cuts a long value and says so', () => {
    expect(decodeValue(Buffer.from('x'.repeat(50)).toString('base64'), 10)).toEqual({ encoding: 'text', text: 'x'.repeat(10), truncated: true });
  });
});
