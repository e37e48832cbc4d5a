import type { AdmissionRequest } from '@access/admission-domain';

/** The parts of an admission request that make it "the same request" for idempotency. */
export type RequestIdentity = Omit<AdmissionRequest, 'admissionId' | 'requestId'>;

/**
 * A canonical string of a request body, so that "the same body" does not depend on key order or on an
 * omitted default (`priority` is filled in before). Equal bodies give equal strings, different ones
 * different strings (the ids cannot contain the JSON delimiters, meters and dimensions are sorted).
 */
export function fingerprintOf(r: RequestIdentity): string {
  return JSON.stringify([r.accountId, r.userId, r.model, r.endpoint, r.priority, sortedEntries(r.estimate.meters), sortedEntries(r.estimate.dimensions)]);
}

function sortedEntries<T>(record: Readonly<Record<string, T>>): [string, T][] {
  const keys = Object.keys(record);
  if (keys.length > 1) keys.sort();
  return keys.map((k) => [k, record[k] as T]);
}

/**
 * A 64-bit digest of a string, as 8 one-byte characters (a latin1 string, so it costs 8 bytes in a V8 string and
 * compares with `===`/`startsWith`). Two 32-bit multiply-xorshift lanes (cyrb53's mixing, both lanes kept whole),
 * seeded: the seed is random per process, so nobody outside can aim for a collision. Not cryptographic, and it need
 * not be: for a fixed key, two different bodies share a digest with probability about 2^-64, and the digests live
 * only in this process (the cold tier's files are rebuilt from Kafka at every start).
 */
export function digest64(text: string, seed: number): string {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2_654_435_761);
    h2 = Math.imul(h2 ^ c, 1_597_334_677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2_246_822_507) ^ Math.imul(h2 ^ (h2 >>> 13), 3_266_489_909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2_246_822_507) ^ Math.imul(h1 ^ (h1 >>> 13), 3_266_489_909);
  return String.fromCharCode(h1 & 255, (h1 >>> 8) & 255, (h1 >>> 16) & 255, h1 >>> 24, h2 & 255, (h2 >>> 8) & 255, (h2 >>> 16) & 255, h2 >>> 24);
}

/** The fingerprint idempotency keeps: 8 bytes instead of the canonical string (about 100–300 characters). */
export function fingerprintDigest(r: RequestIdentity, seed: number): string {
  return digest64(fingerprintOf(r), seed);
}
