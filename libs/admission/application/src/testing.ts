/**
 * Test doubles of the ports, for the specs of this library and of the admission app: a settable clock,
 * reproducible UUIDv7 ids, and a sink that records what is published and whose acknowledgements the
 * test controls. Not used in production.
 */
import { createUuidv7Generator, type AdmissionDecidedV1, type UsageRequestCompletedV1 } from '@access/contracts';
import type { Clock, DecisionSink, IdSource } from './ports';

export class ManualClock implements Clock {
  constructor(public now = Date.parse('2026-11-25T10:00:00.000Z')) {}
  nowMs(): number {
    return this.now;
  }
  advance(ms: number): void {
    this.now += ms;
  }
}

export function sequentialIds(clock: Clock): IdSource {
  // A deterministic pseudo-random source, so that runs are reproducible.
  let seed = 42;
  const generate = createUuidv7Generator(() => clock.nowMs(), () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  });
  return { next: () => generate() };
}

/** Records what is published; `mode` decides whether sends are acknowledged at once, fail, or wait. */
export class MemorySink implements DecisionSink {
  readonly decisions: AdmissionDecidedV1[] = [];
  readonly completions: UsageRequestCompletedV1[] = [];
  mode: 'ack' | 'fail' | 'hold' = 'ack';
  private held: (() => void)[] = [];

  publishDecision(data: AdmissionDecidedV1): Promise<void> {
    return this.send(() => this.decisions.push(data));
  }

  publishCompletion(data: UsageRequestCompletedV1): Promise<void> {
    return this.send(() => this.completions.push(data));
  }

  /** Acknowledges every held send. */
  release(): void {
    const held = this.held;
    this.held = [];
    for (const ack of held) ack();
  }

  private send(record: () => void): Promise<void> {
    if (this.mode === 'fail') return Promise.reject(new Error('broker unavailable'));
    if (this.mode === 'ack') {
      record();
      return Promise.resolve();
    }
    return new Promise((resolve) => this.held.push(() => (record(), resolve())));
  }
}

