import { Pool } from 'undici';
import { replicaLimits } from './limits';

/** The header on a forwarded request: the replica that forwarded it. The owner never forwards it again. */
export const FORWARDED_HEADER = 'access-forwarded-by';
/** The header on every admission answer: the replica that decided it (forwarded answers keep the owner's). */
export const DECIDED_BY_HEADER = 'access-replica';
/**
 * On a decision message: the deciding replica's assignment generation when it took the partition over (it rises with
 * every assignment the replica receives). Audits tell a zombie's decision (the generation it held before its
 * partition moved) from one it made after the group gave the partition back to it.
 */
export const OWNER_GENERATION_HEADER = 'access-owner-generation';
/** The header an owner's answer carries when it turned out not to own the account any more. */
export const NOT_OWNER_HEADER = 'access-not-owner';

/** An answer exactly as the owner gave it: status, headers and body bytes. */
export interface ForwardedAnswer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

/** Hop-by-hop headers (RFC 9110 §7.6.1) and those the local server sets itself. */
const DROPPED_HEADERS = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'date', 'upgrade', 'proxy-connection', 'te', 'trailer']);

/** What the router needs to reach an owner (Forwarder; a fake in tests). */
export interface OwnerClient {
  readonly replicaId: string;
  post(url: string, path: string, headers: Record<string, string>, body: string, timeoutMs: number, signal?: AbortSignal): Promise<ForwardedAnswer>;
}

/**
 * Forwards a request to the replica that owns its account, over a keep-alive connection pool per owner. One hop:
 * the owner sees FORWARDED_HEADER and decides or says it is not the owner, never forwards again.
 */
export class Forwarder implements OwnerClient {
  private readonly pools = new Map<string, Pool>();

  constructor(readonly replicaId: string) {}

  /**
   * POSTs `body` to `url` + `path` with the caller's `headers` (authorization, traceparent, …). Rejects on a network
   * error, when `timeoutMs` passes without an answer, or when `signal` aborts (the partition moved meanwhile).
   */
  async post(url: string, path: string, headers: Record<string, string>, body: string, timeoutMs: number, signal?: AbortSignal): Promise<ForwardedAnswer> {
    const pool = this.poolFor(url);
    const response = await pool.request({
      method: 'POST',
      path,
      headers: { ...headers, 'content-type': 'application/json', [FORWARDED_HEADER]: this.replicaId },
      body,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal: signal === undefined ? AbortSignal.timeout(timeoutMs) : AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
    });
    const bytes = Buffer.from(await response.body.arrayBuffer());
    const out: Record<string, string> = {};
    for (const [name, value] of Object.entries(response.headers)) {
      if (value === undefined || DROPPED_HEADERS.has(name)) continue;
      out[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    return { status: response.statusCode, headers: out, body: bytes };
  }

  private poolFor(url: string): Pool {
    let pool = this.pools.get(url);
    if (pool === undefined) {
      if (this.pools.size >= replicaLimits.ownersMax) {
        const [oldest, oldPool] = this.pools.entries().next().value as [string, Pool];
        this.pools.delete(oldest);
        void oldPool.close();
      }
      pool = new Pool(url, { connections: replicaLimits.connectionsPerOwnerMax, pipelining: 1, keepAliveTimeout: 30_000 });
      this.pools.set(url, pool);
    }
    return pool;
  }

  async close(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((p) => p.close().catch(() => undefined)));
  }
}
