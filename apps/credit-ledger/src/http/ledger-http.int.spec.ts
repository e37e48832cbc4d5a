/**
 * The ledger's HTTP API in-process (Nest + Fastify, injected requests) on a real Postgres schema: scopes,
 * problem+json for every error, idempotent grants and adjustments, and invalid input that writes nothing.
 */
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import pino from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountUseCases, PlanGrantScheduler } from '@access/credit-ledger-application';
import { LedgerStore, ledgerMigrations } from '@access/credit-ledger-adapters';
import { generateToken, hashToken, type StoredToken, type TokenStore } from '@access/platform-auth';
import { repoRoot } from '@access/platform-config';
import { ProblemFilter, Readiness } from '@access/platform-http';
import { createDataSource, dropSchema, migratePostgres, type DataSource } from '@access/platform-postgres';
import { requireStack, testName } from '@access/testing';
import { join } from 'node:path';
import { loadCatalog } from '../config';
import { LedgerHttpModule, ledgerOpenApi } from './module';

const reader = generateToken();
const writer = generateToken();
const admin = generateToken();
const tokens: StoredToken[] = [
  { id: 'r', name: 'reader', hash: hashToken(reader), scopes: ['ledger:read'] },
  { id: 'w', name: 'writer', hash: hashToken(writer), scopes: ['ledger:read', 'ledger:write'] },
  { id: 'a', name: 'admin', hash: hashToken(admin), scopes: ['ledger:read', 'ledger:write', 'ledger:admin'] },
];

describe('credit-ledger HTTP API', () => {
  let url: string;
  const schema = testName('ledger_http');
  let db: DataSource;
  let app: NestFastifyApplication;

  beforeAll(async () => {
    url = (await requireStack(['postgres'])).databaseUrl;
    await migratePostgres({ url, schema, migrations: ledgerMigrations });
    db = createDataSource({ url, schema, logFailedQueries: false });
    await db.initialize();
    const { plans } = loadCatalog(join(repoRoot, 'config'));
    const store = new LedgerStore(db);
    const api = new AccountUseCases(store, plans, new PlanGrantScheduler(store, plans));
    const logger = pino({ level: 'silent' });
    const tokenStore = { active: async () => tokens } as unknown as TokenStore;
    app = await NestFactory.create<NestFastifyApplication>(
      LedgerHttpModule.forRoot({ logger, metrics: new Registry(), readiness: new Readiness(), tokenStore, openapi: ledgerOpenApi() }, api),
      new FastifyAdapter(),
      { logger: false },
    );
    app.useGlobalFilters(new ProblemFilter(logger));
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
  });

  afterAll(async () => {
    await app?.close();
    await db?.destroy();
    await dropSchema(url, schema);
  });

  const call = (method: 'GET' | 'PUT' | 'POST', path: string, token: string | undefined, payload?: unknown) =>
    app.inject({ method, url: path, headers: token ? { authorization: `Bearer ${token}` } : {}, payload: payload as never });
  const eventCount = async () => Number(((await db.query('SELECT count(*) AS n FROM ledger_events')) as { n: string }[])[0]!.n);

  it('opens an account (201), then answers the same plan 200, and grants the plan period', async () => {
    const opened = await call('PUT', '/v1/accounts/acct-1', writer, { plan: 'plus' });
    expect(opened.statusCode).toBe(201);
    expect(opened.json()).toMatchObject({ accountId: 'acct-1', plan: 'plus', balanceCredits: 2000, heldCredits: 0, availableCredits: 2000 });
    const again = await call('PUT', '/v1/accounts/acct-1', writer, { plan: 'plus' });
    expect(again.statusCode).toBe(200);
    expect(again.json().version).toBe(opened.json().version);
  });

  it.each([
    ['no token', 'GET', '/v1/accounts/acct-1/balance', undefined, undefined, 401, 'AUTH.MISSING_TOKEN'],
    ['an unknown token', 'GET', '/v1/accounts/acct-1/balance', generateToken(), undefined, 401, 'AUTH.UNKNOWN_TOKEN'],
    ['a reader granting', 'POST', '/v1/accounts/acct-1/grants', reader, { grantId: 'g-r', credits: 1, source: 'promo' }, 403, 'AUTH.MISSING_SCOPE'],
    ['a reader opening', 'PUT', '/v1/accounts/acct-r', reader, { plan: 'pro' }, 403, 'AUTH.MISSING_SCOPE'],
    ['a writer adjusting', 'POST', '/v1/accounts/acct-1/adjustments', writer, { adjustmentId: 'a-w', credits: 5, reason: 'x' }, 403, 'AUTH.MISSING_SCOPE'],
  ] as const)('refuses %s with %i %s and writes nothing', async (_name, method, path, token, payload, status, code) => {
    const before = await eventCount();
    const r = await call(method, path, token, payload);
    expect(r.statusCode).toBe(status);
    expect(r.headers['content-type']).toContain('application/problem+json');
    expect(r.json()).toMatchObject({ status, code });
    expect(await eventCount()).toBe(before);
  });

  it.each([
    ['grant with bad fields', 'POST', '/v1/accounts/acct-1/grants', { grantId: 'bad id', credits: 0, source: 'gift' }, ['credits', 'grantId', 'source']],
    ['grant with fractional credits and a bad time', 'POST', '/v1/accounts/acct-1/grants', { grantId: 'g-x', credits: 1.5, source: 'promo', expiresAt: 'tomorrow' }, ['credits', 'expiresAt']],
    ['grant expiring before now', 'POST', '/v1/accounts/acct-1/grants', { grantId: 'g-old', credits: 5, source: 'promo', expiresAt: '2020-01-01T00:00:00.000Z' }, ['expiresAt']],
    ['adjustment of zero with a blank reason', 'POST', '/v1/accounts/acct-1/adjustments', { adjustmentId: 'a-0', credits: 0, reason: '  ' }, ['credits', 'reason']],
    ['unknown plan', 'PUT', '/v1/accounts/acct-2', { plan: 'platinum' }, ['plan']],
    ['missing body fields', 'PUT', '/v1/accounts/acct-2', {}, ['plan']],
    ['bad account id', 'PUT', '/v1/accounts/bad%20id', { plan: 'pro' }, ['accountId']],
  ] as const)('answers 400 naming each field for %s, and writes nothing', async (_name, method, path, payload, paths) => {
    const before = await eventCount();
    const r = await call(method, path, admin, payload);
    expect(r.statusCode).toBe(400);
    expect(r.headers['content-type']).toContain('application/problem+json');
    const problem = r.json();
    expect(problem.code).toBe('LEDGER.INVALID_REQUEST');
    expect([...new Set(problem.errors.map((e: { path: string }) => e.path))].sort()).toEqual([...paths]);
    expect(await eventCount()).toBe(before);
  });

  it('answers malformed JSON 400 problem+json and writes nothing', async () => {
    const before = await eventCount();
    const r = await app.inject({ method: 'POST', url: '/v1/accounts/acct-1/grants', headers: { authorization: `Bearer ${writer}`, 'content-type': 'application/json' }, payload: '{"grantId":' });
    expect(r.statusCode).toBe(400);
    expect(r.json()).toMatchObject({ code: 'HTTP.MALFORMED_BODY' });
    expect(await eventCount()).toBe(before);
  });

  it('grants idempotently: 201 new, 200 the same body, 409 another body', async () => {
    const body = { grantId: 'promo-1', credits: 300, source: 'promo', expiresAt: '2099-01-01T00:00:00.000Z' };
    const first = await call('POST', '/v1/accounts/acct-1/grants', writer, body);
    expect(first.statusCode).toBe(201);
    expect(first.json()).toMatchObject({ grantId: 'promo-1', credits: 300, source: 'promo', priority: 20, expiresAt: '2099-01-01T00:00:00.000Z' });
    const before = await eventCount();
    const same = await call('POST', '/v1/accounts/acct-1/grants', writer, body);
    expect(same.statusCode).toBe(200);
    expect(same.json()).toEqual(first.json());
    const other = await call('POST', '/v1/accounts/acct-1/grants', writer, { ...body, credits: 301 });
    expect(other.statusCode).toBe(409);
    expect(other.json()).toMatchObject({ code: 'LEDGER.CONFLICT', existing: { credits: 300 } });
    expect(await eventCount()).toBe(before);
  });

  it('adjusts idempotently with ledger:admin, and the balance shows it', async () => {
    const body = { adjustmentId: 'adj-1', credits: -150, reason: 'refund reversal' };
    expect((await call('POST', '/v1/accounts/acct-1/adjustments', admin, body)).statusCode).toBe(201);
    expect((await call('POST', '/v1/accounts/acct-1/adjustments', admin, body)).statusCode).toBe(200);
    expect((await call('POST', '/v1/accounts/acct-1/adjustments', admin, { ...body, credits: -151 })).statusCode).toBe(409);
    const balance = (await call('GET', '/v1/accounts/acct-1/balance', reader)).json();
    expect(balance).toMatchObject({ balanceCredits: 2000 + 300 - 150, heldCredits: 0, availableCredits: 2150 });
    expect(balance.grants.map((g: { grantId: string }) => g.grantId)).toEqual([expect.stringMatching(/^plan:plus:/), 'promo-1']);
  });

  it('pages through the events in stream order', async () => {
    const page1 = (await call('GET', '/v1/accounts/acct-1/events?limit=2', reader)).json();
    expect(page1.events.map((e: { version: number; type: string }) => [e.version, e.type])).toEqual([
      [1, 'ledger.account_opened'],
      [2, 'ledger.credits_granted'],
    ]);
    const page2 = (await call('GET', `/v1/accounts/acct-1/events?afterVersion=${page1.nextAfterVersion}&limit=10`, reader)).json();
    expect(page2.events.map((e: { type: string }) => e.type)).toEqual(['ledger.credits_granted', 'ledger.credits_adjusted']);
    expect((await call('GET', '/v1/accounts/acct-1/events?limit=0', reader)).statusCode).toBe(400);
  });

  it('answers 404 for an account that was never opened', async () => {
    for (const [method, path, payload] of [
      ['GET', '/v1/accounts/ghost/balance', undefined],
      ['GET', '/v1/accounts/ghost/events', undefined],
      ['POST', '/v1/accounts/ghost/grants', { grantId: 'g', credits: 1, source: 'promo' }],
    ] as const) {
      const r = await call(method, path, admin, payload);
      expect(r.statusCode).toBe(404);
      expect(r.json()).toMatchObject({ code: 'LEDGER.ACCOUNT_NOT_FOUND' });
    }
  });

  it('serves its OpenAPI document at /docs', async () => {
    const doc = (await call('GET', '/docs/openapi.json', undefined)).json();
    expect(Object.keys(doc.paths).sort()).toEqual([
      '/v1/accounts/{accountId}',
      '/v1/accounts/{accountId}/adjustments',
      '/v1/accounts/{accountId}/balance',
      '/v1/accounts/{accountId}/events',
      '/v1/accounts/{accountId}/grants',
    ]);
  });
});
