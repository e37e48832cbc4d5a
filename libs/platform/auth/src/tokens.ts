/**
 * Scoped service tokens. A token is 32 random bytes shown once at creation (`acc_<base64url>`); Postgres keeps
 * only its SHA-256 (tokens are high-entropy, so a slow password hash adds nothing), its scopes and a name.
 * Checking a token never touches the database: the set of hashes is held in memory and refreshed periodically.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const SCOPES = ['admission:decide', 'ledger:read', 'ledger:write', 'ledger:admin'] as const;
export type Scope = (typeof SCOPES)[number];

export function isScope(value: string): value is Scope {
  return (SCOPES as readonly string[]).includes(value);
}

const tokenPattern = /^acc_[A-Za-z0-9_-]{43}$/;

export function generateToken(): string {
  return `acc_${randomBytes(32).toString('base64url')}`;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export interface StoredToken {
  id: string;
  name: string;
  hash: string;
  scopes: Scope[];
}

export type TokenCheck =
  | { ok: true; tokenId: string; name: string }
  | { ok: false; status: 401; code: 'AUTH.MISSING_TOKEN' | 'AUTH.UNKNOWN_TOKEN'; detail: string }
  | { ok: false; status: 403; code: 'AUTH.MISSING_SCOPE'; detail: string };

/** Extracts the bearer token of an Authorization header value (case-insensitive scheme). */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

export class TokenRegistry {
  private byHash = new Map<string, StoredToken>();

  replaceAll(tokens: readonly StoredToken[]): void {
    this.byHash = new Map(tokens.map((t) => [t.hash, t]));
  }

  get size(): number {
    return this.byHash.size;
  }

  check(authorization: string | undefined, scope: Scope): TokenCheck {
    const token = bearerToken(authorization);
    if (!token) return { ok: false, status: 401, code: 'AUTH.MISSING_TOKEN', detail: 'Send Authorization: Bearer <token>.' };
    if (!tokenPattern.test(token)) return { ok: false, status: 401, code: 'AUTH.UNKNOWN_TOKEN', detail: 'The token is not known.' };
    const hash = hashToken(token);
    const stored = this.byHash.get(hash);
    // The map lookup is by hash, so timing reveals nothing about the token; compare anyway to be explicit.
    if (!stored || !timingSafeEqual(Buffer.from(stored.hash, 'hex'), Buffer.from(hash, 'hex'))) {
      return { ok: false, status: 401, code: 'AUTH.UNKNOWN_TOKEN', detail: 'The token is not known.' };
    }
    if (!stored.scopes.includes(scope)) {
      return { ok: false, status: 403, code: 'AUTH.MISSING_SCOPE', detail: `The token lacks the scope ${scope}.` };
    }
    return { ok: true, tokenId: stored.id, name: stored.name };
  }
}
