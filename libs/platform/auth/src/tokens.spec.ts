import { describe, expect, it } from 'vitest';
import { TokenRegistry, bearerToken, generateToken, hashToken, type Scope } from './tokens';

function registryWith(token: string, scopes: Scope[]) {
  const registry = new TokenRegistry();
  registry.replaceAll([{ id: 't1', name: 'svc', hash: hashToken(token), scopes }]);
  return registry;
}

describe('TokenRegistry.check', () => {
  const token = generateToken();
  const registry = registryWith(token, ['ledger:read']);

  it.each([
    ['no header', undefined, 'ledger:read', 401, 'AUTH.MISSING_TOKEN'],
    ['not bearer', `Basic ${token}`, 'ledger:read', 401, 'AUTH.MISSING_TOKEN'],
    ['malformed token', 'Bearer abc', 'ledger:read', 401, 'AUTH.UNKNOWN_TOKEN'],
    ['unknown token', `Bearer ${generateToken()}`, 'ledger:read', 401, 'AUTH.UNKNOWN_TOKEN'],
    ['known, wrong scope', `Bearer ${token}`, 'ledger:write', 403, 'AUTH.MISSING_SCOPE'],
  ] as const)('%s → %i', (_name, header, scope, status, code) => {
    const result = registry.check(header, scope);
    expect(result).toMatchObject({ ok: false, status, code });
  });

  it('accepts a known token with the scope, scheme case-insensitive', () => {
    expect(registry.check(`bearer ${token}`, 'ledger:read')).toEqual({ ok: true, tokenId: 't1', name: 'svc' });
  });

  it('forgets tokens on replaceAll (revocation)', () => {
    const r = registryWith(token, ['ledger:read']);
    r.replaceAll([]);
    expect(r.check(`Bearer ${token}`, 'ledger:read')).toMatchObject({ status: 401 });
  });
});

describe('tokens', () => {
  it('are unique, high-entropy and hashed deterministically', () => {
    const tokens = new Set(Array.from({ length: 1000 }, generateToken));
    expect(tokens.size).toBe(1000);
    const t = generateToken();
    expect(t).toMatch(/^acc_[A-Za-z0-9_-]{43}$/);
    expect(hashToken(t)).toBe(hashToken(t));
    expect(hashToken(t)).toMatch(/^[0-9a-f]{64}$/);
  });
  it('bearerToken parses the header', () => {
    expect(bearerToken('Bearer x')).toBe('x');
    expect(bearerToken('Bearer  x  ')).toBe('x');
    expect(bearerToken('Bearer')).toBeUndefined();
  });
});
