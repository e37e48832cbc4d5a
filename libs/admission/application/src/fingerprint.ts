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
