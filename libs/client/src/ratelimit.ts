import { Token, parseList, type BareItem, type Item, type InnerList } from 'structured-headers';
import type { RateLimitHeaders, RateLimitPolicy, RateLimitState } from './types';

/**
 * The IETF RateLimit headers (draft-ietf-httpapi-ratelimit-headers), read as RFC 9651 structured fields:
 * `RateLimit-Policy: "requests";q=60;w=60` and `RateLimit: "requests";r=41;t=20`, each a List whose members
 * name a policy (a String or Token) with integer parameters. A header that is absent or does not parse gives
 * an empty list: the headers are advice, and an answer is never refused for them.
 */
export function parseRateLimitHeaders(get: (name: string) => string | null): RateLimitHeaders {
  return {
    policies: members(get('ratelimit-policy')).flatMap(policyOf),
    limits: members(get('ratelimit')).flatMap(stateOf),
  };
}

function members(value: string | null): Item[] {
  if (value === null || value.trim() === '') return [];
  try {
    return parseList(value).filter((member): member is Item => !isInnerList(member));
  } catch {
    return [];
  }
}

function isInnerList(member: Item | InnerList): member is InnerList {
  return Array.isArray(member[0]);
}

function nameOf(item: Item): string | undefined {
  const value: BareItem | Item[] = item[0];
  if (typeof value === 'string') return value;
  // A Token (`requests` without quotes) names a policy as well as a String does.
  if (value instanceof Token) return value.toString();
  return undefined;
}

function nonNegativeInteger(value: BareItem | undefined): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : undefined;
}

function policyOf(item: Item): RateLimitPolicy[] {
  const name = nameOf(item);
  const quota = nonNegativeInteger(item[1].get('q'));
  if (name === undefined || quota === undefined) return [];
  const windowSeconds = nonNegativeInteger(item[1].get('w'));
  return [windowSeconds === undefined ? { name, quota } : { name, quota, windowSeconds }];
}

function stateOf(item: Item): RateLimitState[] {
  const name = nameOf(item);
  const remaining = nonNegativeInteger(item[1].get('r'));
  if (name === undefined || remaining === undefined) return [];
  const resetSeconds = nonNegativeInteger(item[1].get('t'));
  return [resetSeconds === undefined ? { name, remaining } : { name, remaining, resetSeconds }];
}

/**
 * `Retry-After` (RFC 9110): delay-seconds or an HTTP-date. Returns milliseconds from `nowMs`, or undefined when
 * the header is absent or unreadable.
 */
export function retryAfterMs(value: string | null, nowMs: number): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  if (!Number.isFinite(at) || !/[A-Za-z]/.test(text)) return undefined;
  return Math.max(0, at - nowMs);
}
