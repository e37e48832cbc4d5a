/**
 * The scope guard inside a real Nest + Fastify app (in-process, injected requests): 401 without a known token,
 * 403 without the scope, a /v1 route without a declared scope is closed, health stays open.
 */
import { Controller, Get, Module, Post, Body } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Registry } from 'prom-client';
import { generateToken, hashToken, type StoredToken, type TokenStore } from '@access/platform-auth';
import { RequireScope } from './auth';
import { ProblemFilter } from './problem';
import { Readiness, ServiceShellModule } from './shell';
import { parseOrThrow } from './validation';

const writer = generateToken();
const reader = generateToken();
const tokens: StoredToken[] = [
  { id: 'w', name: 'writer', hash: hashToken(writer), scopes: ['ledger:write', 'ledger:read'] },
  { id: 'r', name: 'reader', hash: hashToken(reader), scopes: ['ledger:read'] },
];
const store = { active: async () => tokens } as unknown as TokenStore;
const body = z.object({ credits: z.number().int().positive(), grantId: z.string().min(1) });

@Controller('v1')
class SampleController {
  @Get('things')
  @RequireScope('ledger:read')
  list() {
    return { things: [] };
  }
  @Post('things')
  @RequireScope('ledger:write')
  create(@Body() raw: unknown) {
    return parseOrThrow(body, raw, 'SAMPLE.INVALID_REQUEST');
  }
  @Get('open')
  forgotten() {
    return { oops: true };
  }
}

describe('ScopeGuard and problem responses', () => {
  let app: NestFastifyApplication;
  beforeAll(async () => {
    const logger = pino({ level: 'silent' });
    @Module({
      imports: [ServiceShellModule.forRoot({ logger, metrics: new Registry(), readiness: new Readiness(), tokenStore: store, openapi: {} })],
      controllers: [SampleController],
    })
    class AppModule {}
    app = await NestFactory.create<NestFastifyApplication>(AppModule, new FastifyAdapter(), { logger: false });
    app.useGlobalFilters(new ProblemFilter(logger));
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
  });
  afterAll(async () => app?.close());

  const call = (method: 'GET' | 'POST', url: string, token?: string, payload?: unknown) =>
    app.inject({ method, url, headers: token ? { authorization: `Bearer ${token}` } : {}, payload: payload as never });

  it.each([
    ['no token', 'GET', '/v1/things', undefined, 401, 'AUTH.MISSING_TOKEN'],
    ['unknown token', 'GET', '/v1/things', generateToken(), 401, 'AUTH.UNKNOWN_TOKEN'],
    ['reader writes', 'POST', '/v1/things', reader, 403, 'AUTH.MISSING_SCOPE'],
    ['route without scope', 'GET', '/v1/open', writer, 403, 'AUTH.NO_SCOPE_DECLARED'],
  ] as const)('%s → %i %s', async (_n, method, url, token, status, code) => {
    const r = await call(method, url, token, { credits: 1, grantId: 'g' });
    expect(r.statusCode).toBe(status);
    expect(r.headers['content-type']).toContain('application/problem+json');
    expect(r.json()).toMatchObject({ status, code });
  });

  it('lets a token with the scope through', async () => {
    expect((await call('GET', '/v1/things', reader)).statusCode).toBe(200);
    expect((await call('POST', '/v1/things', writer, { credits: 5, grantId: 'g1' })).json()).toEqual({ credits: 5, grantId: 'g1' });
  });

  it('answers invalid bodies 400 naming each bad field', async () => {
    const r = await call('POST', '/v1/things', writer, { credits: -1 });
    expect(r.statusCode).toBe(400);
    const problem = r.json();
    expect(problem.code).toBe('SAMPLE.INVALID_REQUEST');
    expect(problem.errors.map((e: { path: string }) => e.path).sort()).toEqual(['credits', 'grantId']);
  });

  it('answers malformed JSON 400 problem+json', async () => {
    const r = await app.inject({ method: 'POST', url: '/v1/things', headers: { authorization: `Bearer ${writer}`, 'content-type': 'application/json' }, payload: '{oops' });
    expect(r.statusCode).toBe(400);
    expect(r.json()).toMatchObject({ code: 'HTTP.MALFORMED_BODY' });
  });

  it('keeps health open without a token', async () => {
    expect((await call('GET', '/health/live')).statusCode).toBe(200);
  });
});
