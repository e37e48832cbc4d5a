import { createUuidv7Generator, type RandomSource } from './uuidv7';

/**
 * Ids for adapters: the wall clock and the platform's cryptographic random source (Web Crypto, global in
 * Node 24). Domain code never calls this; it receives ids as inputs.
 */

const poolSize = 256;
const pool = new Uint32Array(poolSize);
let poolIndex = poolSize;

/** Uniform in [0, 1) from `crypto.getRandomValues`, refilled in batches of `poolSize` to keep ids cheap. */
const cryptoRandom: RandomSource = () => {
  if (poolIndex >= poolSize) {
    crypto.getRandomValues(pool);
    poolIndex = 0;
  }
  const value = pool[poolIndex++] ?? 0;
  return value / 2 ** 32;
};

const nextId = createUuidv7Generator(() => Date.now(), cryptoRandom);

/** A new event id (or admissionId): UUIDv7, strictly increasing within this process. */
export function newEventId(): string {
  return nextId();
}
