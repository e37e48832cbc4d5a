/**
 * Request metrics inside a real Nest + Fastify app (in-process, injected requests): every answer is counted and
 * timed by route pattern and status, 404s included, and an id in the path never becomes a label.
 */
import { Controller, Get, Module, Param } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import pino from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateToken, hashToken, type TokenStore } from '@access/platform-auth';
import { RequireScope } from './auth';
import { ProblemFilter } from './problem';
import { Readiness, ServiceShellModule } from './shell';

const reader = generateToken();
const store = { active: async () => [{ id: 'r', name: 'reader', hash: hashToken(reader), scopes: ['ledger:read'] }] } as unknown as TokenStore;

@Controller('v1/things')
class ThingsController {
  @Get(':id')
  @RequireScope('ledger:read')
  one(@Param('id') id: string) {
    return { id };
  }
}

describe('request metrics', () => {
  let app: NestFastifyApplication;
  const registry = new Registry();
  beforeAll(async () => {
    const logger = pino({ level: 'silent' });
    @Module({
      imports: [ServiceShellModule.forRoot({ logger, metrics: registry, readiness: new Readiness(), tokenStore: store, openapi: {} })],
      controllers: [ThingsController],
    })
    class AppModule {}
    app = await NestFactory.create<NestFastifyApplication>(AppModule, new FastifyAdapter(), { logger: false });
    app.useGlobalFilters(new ProblemFilter(logger));
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
  });
  afterAll(async () => app?.close());

  const get = (url: string, token?: string) => app.inject({ method: 'GET', url, headers: token ? { authorization: `Bearer ${token}` } : {} });
  /** The value of the series `name{labels}` in the exposition text (the order prom-client writes labels in). */
  const value = async (name: string, labels: { method: string; route: string; status: string }) => {
    const series = `${name}{method="${labels.method}",route="${labels.route}",status="${labels.status}"} `;
    const line = (await registry.metrics()).split('\n').find((l) => l.startsWith(series));
    return line === undefined ? 0 : Number(line.slice(series.length));
  };

  it.each([
    ['an answered route', ['/v1/things/a', '/v1/things/b'], reader, { method: 'GET', route: '/v1/things/:id', status: '200' }, 2],
    ['a refused route', ['/v1/things/a'], undefined, { method: 'GET', route: '/v1/things/:id', status: '401' }, 1],
    ['an unknown path', ['/nowhere', '/nowhere/else'], undefined, { method: 'GET', route: 'unmatched', status: '404' }, 2],
    ['the health route', ['/health/live'], undefined, { method: 'GET', route: '/health/live', status: '200' }, 1],
  ] as const)('counts %s by route pattern and status', async (_name, urls, token, labels, expected) => {
    for (const url of urls) await get(url, token);
    expect(await value('http_requests_total', labels)).toBe(expected);
    expect(await value('http_request_duration_seconds_count', labels)).toBe(expected);
  });

  it('never puts a path parameter in a label', async () => {
    const text = await registry.metrics();
    expect(text).toContain('route="/v1/things/:id"');
    expect(text).not.toContain('/v1/things/a"');
  });
});
