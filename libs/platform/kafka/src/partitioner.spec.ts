import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { partitionForKey } from './partitioner';

// What the Java client (kafka-clients 4.1.1: Utils.toPositive(Utils.murmur2(bytes)) % 8) gives these keys,
// computed with the jar of the local broker.
const javaClientPartitions: [string, number, number][] = [
  ['acct-1', 8, 6],
  ['acct-2', 8, 3],
  ['hello', 8, 5],
  ['acct-7', 8, 4],
  ['acct-42', 8, 7],
  ['é-ü', 8, 0],
];

describe('partitionForKey', () => {
  it.each(javaClientPartitions)('%s in %d partitions is partition %d', (key, count, expected) => {
    expect(partitionForKey(key, count)).toBe(expected);
  });

  it('is in range and stable for any key and count', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 128 }), fc.integer({ min: 1, max: 256 }), (key, count) => {
        const p = partitionForKey(key, count);
        expect(p).toBeGreaterThanOrEqual(0);
        expect(p).toBeLessThan(count);
        expect(partitionForKey(key, count)).toBe(p);
      }),
    );
  });

  it('refuses a count that is not a positive integer', () => {
    expect(() => partitionForKey('a', 0)).toThrow(RangeError);
    expect(() => partitionForKey('a', 1.5)).toThrow(RangeError);
  });
});
