/**
 * A `load.sampled` exactly as CONTRACTS.md has it (no field beyond the contract's; the CloudEvent `time` is the
 * sample time), built by the official CloudEvents SDK in both Kafka modes with the SDK's own UUIDv4 id: accepted at
 * the edge, and it moves the controller (an overloaded fleet cuts batch traffic).
 */
import { describe, expect, it } from 'vitest';
import { EVENTS, TOPICS } from '@access/contracts';
import { defaultFeedbackConfig } from '@access/load-feedback-domain';
import { decodeEvent } from '@access/platform-kafka';
import { sdkKafkaMessage, type SdkMode } from '@access/testing';
import { FeedbackLoop } from '@access/load-feedback-application';

const config = { ...defaultFeedbackConfig, tickIntervalMs: 1_000 };

describe.each<[SdkMode]>([['structured'], ['binary']])('load.sampled from the CloudEvents SDK in %s mode', (mode) => {
  const time = '2026-12-04T10:00:01.000Z';
  const message = sdkKafkaMessage(
    {
      type: EVENTS.loadSampled,
      source: '//fleet.example/codex/eu',
      time,
      data: { model: 'codex-1', region: 'eu-1', utilization: 1.8, queueDepth: 120, p95LatencyMs: 30_000, capacityCreditsPerSecond: 1_000 },
    },
    mode,
    'codex-1',
  );

  it('is accepted as the contract has it, sampled at the CloudEvent time', () => {
    const decoded = decodeEvent({ topic: TOPICS.load, value: Buffer.from(message.value), headers: message.headers });
    expect(decoded.ok && decoded.mode).toBe(mode);
    if (!decoded.ok || decoded.event.type !== EVENTS.loadSampled) throw new Error('not accepted');
    expect(decoded.event.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(decoded.event.subject).toBe('codex-1');
    expect(decoded.event.time).toBe(time);
  });

  it('moves the controller: an overloaded fleet cuts the batch multiplier', async () => {
    const decoded = decodeEvent({ topic: TOPICS.load, value: Buffer.from(message.value), headers: message.headers });
    if (!decoded.ok || decoded.event.type !== EVENTS.loadSampled) throw new Error('not accepted');
    const nowMs = Date.parse(time);
    const loop = new FeedbackLoop({ config, restored: [], nowMs: nowMs - 1_000 });
    expect(loop.onSample(decoded.event.data, Date.parse(decoded.event.time))).toBe(true);
    const result = await loop.tick(nowMs, async () => undefined);
    const batch = result.changes.filter((c) => c.model === 'codex-1' && c.priority === 'batch');
    expect(batch.length).toBeGreaterThan(0);
    expect(batch.every((c) => c.multiplier < 1 && c.reason === 'overload')).toBe(true);
  });
});
