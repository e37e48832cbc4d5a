/**
 * What every service shares: health and metrics endpoints, request counts and durations per route
 * (request-metrics.ts), the scope guard, OpenAPI at /docs, problem+json errors, JSON logs, body limits, and a
 * clean shutdown on SIGTERM/SIGINT.
 */
import 'reflect-metadata';
import { Controller, Get, Inject, Module, Res, type DynamicModule, type INestApplication, type Provider } from '@nestjs/common';
import { APP_GUARD, NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { TokenRegistry, TokenStore } from '@access/platform-auth';
import { httpHostFromEnv } from '@access/platform-config';
import { LOGGER, ScopeGuard, TOKEN_STORE, TokenRefresher } from './auth';
import { ProblemFilter, problem, sendProblem } from './problem';
import { REQUEST_METRICS_REGISTRY, RequestMetricsInstaller } from './request-metrics';

export const METRICS = Symbol('METRICS');
export const READINESS = Symbol('READINESS');
export const OPENAPI = Symbol('OPENAPI');

export interface ReadinessCheck {
  name: string;
  /** True when this dependency is usable (connections up, consumers assigned, state caught up). */
  check(): boolean | Promise<boolean>;
}

export class Readiness {
  private readonly checks: ReadinessCheck[] = [];
  add(check: ReadinessCheck): void {
    this.checks.push(check);
  }
  async evaluate(): Promise<{ ready: boolean; checks: Record<string, boolean> }> {
    const results: Record<string, boolean> = {};
    for (const c of this.checks) {
      try {
        results[c.name] = await c.check();
      } catch {
        results[c.name] = false;
      }
    }
    return { ready: Object.values(results).every(Boolean), checks: results };
  }
}

@Controller()
class HealthController {
  constructor(
    @Inject(READINESS) private readonly readiness: Readiness,
    @Inject(METRICS) private readonly metrics: Registry,
    @Inject(OPENAPI) private readonly openapi: object,
  ) {}

  @Get('/health/live')
  live() {
    return { status: 'live' };
  }

  @Get('/health/ready')
  async ready(@Res() reply: FastifyReply) {
    const result = await this.readiness.evaluate();
    if (result.ready) return void reply.status(200).send({ status: 'ready', checks: result.checks });
    const failing = Object.entries(result.checks).filter(([, ok]) => !ok).map(([name]) => name);
    sendProblem(reply, problem(503, 'HEALTH.NOT_READY', `Not ready: ${failing.join(', ')}`, { checks: result.checks }));
  }

  @Get('/metrics')
  async prometheus(@Res() reply: FastifyReply) {
    void reply.header('content-type', this.metrics.contentType).send(await this.metrics.metrics());
  }

  @Get('/docs/openapi.json')
  openapiJson() {
    return this.openapi;
  }

  @Get('/docs')
  docs(@Res() reply: FastifyReply) {
    const title = (this.openapi as { info?: { title?: string } }).info?.title ?? 'API';
    // A self-contained page: the document itself, readable without any external script.
    const html = `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title>
<style>body{font:14px system-ui;margin:2rem;max-width:70rem}pre{background:#f6f8fa;padding:1rem;overflow:auto}</style></head>
<body><h1>${title}</h1><p>OpenAPI 3.1 document: <a href="/docs/openapi.json">/docs/openapi.json</a></p>
<pre>${JSON.stringify(this.openapi, null, 2).replaceAll('&', '&amp;').replaceAll('<', '&lt;')}</pre></body></html>`;
    void reply.header('content-type', 'text/html; charset=utf-8').send(html);
  }
}

export interface ShellOptions {
  logger: Logger;
  metrics: Registry;
  readiness: Readiness;
  tokenStore: TokenStore;
  openapi: object;
}

@Module({})
export class ServiceShellModule {
  static forRoot(options: ShellOptions): DynamicModule {
    const providers: Provider[] = [
      { provide: LOGGER, useValue: options.logger },
      { provide: METRICS, useValue: options.metrics },
      { provide: REQUEST_METRICS_REGISTRY, useValue: options.metrics },
      RequestMetricsInstaller,
      { provide: READINESS, useValue: options.readiness },
      { provide: OPENAPI, useValue: options.openapi },
      { provide: TOKEN_STORE, useValue: options.tokenStore },
      { provide: TokenRegistry, useValue: new TokenRegistry() },
      TokenRefresher,
      { provide: APP_GUARD, useClass: ScopeGuard },
    ];
    return {
      module: ServiceShellModule,
      global: true,
      controllers: [HealthController],
      providers,
      exports: [LOGGER, METRICS, READINESS, TokenRegistry, TokenRefresher],
    };
  }
}

export interface ServeOptions {
  name: string;
  port: number;
  /** The bind address; HTTP_HOST (default 127.0.0.1) when not given. */
  host?: string;
  logger: Logger;
  bodyLimitBytes?: number;
  /** Runs after the HTTP server closed, before the process exits (stop consumers, flush producers, close pools). */
  onShutdown?: () => Promise<void>;
}

/** Boots a Nest module on Fastify, listens, and shuts down cleanly on SIGTERM/SIGINT. */
export async function serve(module: unknown, options: ServeOptions): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({ bodyLimit: options.bodyLimitBytes ?? 64 * 1024, logger: false, return503OnClosing: true });
  const app = await NestFactory.create<NestFastifyApplication>(module as never, adapter, {
    logger: {
      log: (m: unknown) => options.logger.debug(String(m)),
      error: (m: unknown, trace?: unknown) => options.logger.error({ trace }, String(m)),
      warn: (m: unknown) => options.logger.warn(String(m)),
      debug: () => undefined,
      verbose: () => undefined,
    },
    abortOnError: false,
  });
  app.useGlobalFilters(new ProblemFilter(options.logger));
  const host = options.host ?? httpHostFromEnv();
  await app.listen(options.port, host);
  options.logger.info({ host, port: options.port }, `${options.name} listening`);
  installShutdown(app, options);
  return app;
}

function installShutdown(app: INestApplication, options: ServeOptions): void {
  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    options.logger.info({ signal }, `${options.name} shutting down`);
    const force = setTimeout(() => {
      options.logger.error('shutdown took too long; exiting');
      process.exit(1);
    }, Number(process.env.SHUTDOWN_TIMEOUT_MS ?? 20_000));
    force.unref();
    try {
      await app.close();
      await options.onShutdown?.();
      options.logger.info(`${options.name} stopped`);
      process.exit(0);
    } catch (error) {
      options.logger.error({ err: error }, 'error during shutdown');
      process.exit(1);
    }
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
}
