import { randomUUID } from 'node:crypto';
import type { MigrationInterface, QueryRunner } from 'typeorm';
import type { DataSource } from 'typeorm';
import { generateToken, hashToken, isScope, type Scope, type StoredToken } from './tokens';

export class CreateServiceTokens1732530000000 implements MigrationInterface {
  name = 'CreateServiceTokens1732530000000';
  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE IF NOT EXISTS service_tokens (
        id uuid PRIMARY KEY,
        name text NOT NULL,
        token_sha256 char(64) NOT NULL UNIQUE,
        scopes text[] NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        revoked_at timestamptz
      )`);
  }
  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE IF EXISTS service_tokens');
  }
}

export const authMigrations = [CreateServiceTokens1732530000000];

/** What `access tokens list` shows of a token: never its secret or hash. */
export interface TokenListing {
  id: string;
  name: string;
  scopes: string[];
  createdAt: string;
  revokedAt: string | null;
}

export class TokenStore {
  constructor(private readonly db: DataSource) {}

  /** Creates a token with the given scopes; returns the secret, which is never stored or shown again. */
  async create(name: string, scopes: Scope[]): Promise<{ id: string; token: string }> {
    const token = generateToken();
    const id = randomUUID();
    await this.db.query('INSERT INTO service_tokens (id, name, token_sha256, scopes) VALUES ($1, $2, $3, $4)', [
      id,
      name,
      hashToken(token),
      scopes,
    ]);
    return { id, token };
  }

  /** Stores a token whose secret the caller chose (the development token that `npm start` prints). */
  async ensure(name: string, token: string, scopes: Scope[]): Promise<void> {
    await this.db.query(
      `INSERT INTO service_tokens (id, name, token_sha256, scopes) VALUES ($1, $2, $3, $4)
       ON CONFLICT (token_sha256) DO UPDATE SET scopes = EXCLUDED.scopes, revoked_at = NULL`,
      [randomUUID(), name, hashToken(token), scopes],
    );
  }

  async revoke(id: string): Promise<boolean> {
    const result: unknown[] = await this.db.query('UPDATE service_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL RETURNING id', [id]);
    return result.length > 0;
  }

  /** Every token without its hash, oldest first; revoked ones only with `includeRevoked`. */
  async list(options: { includeRevoked?: boolean } = {}): Promise<TokenListing[]> {
    const rows: { id: string; name: string; scopes: string[]; created_at: Date; revoked_at: Date | null }[] = await this.db.query(
      `SELECT id, name, scopes, created_at, revoked_at FROM service_tokens ${options.includeRevoked ? '' : 'WHERE revoked_at IS NULL'} ORDER BY created_at, id`,
    );
    return rows.map((r) => ({ id: r.id, name: r.name, scopes: r.scopes, createdAt: new Date(r.created_at).toISOString(), revokedAt: r.revoked_at === null ? null : new Date(r.revoked_at).toISOString() }));
  }

  async active(): Promise<StoredToken[]> {
    const rows: { id: string; name: string; token_sha256: string; scopes: string[] }[] = await this.db.query(
      'SELECT id, name, token_sha256, scopes FROM service_tokens WHERE revoked_at IS NULL',
    );
    return rows.map((r) => ({ id: r.id, name: r.name, hash: r.token_sha256.trim(), scopes: r.scopes.filter(isScope) }));
  }
}
