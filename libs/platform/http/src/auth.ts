/**
 * One guard on every `/v1` route: 401 without a known token, 403 without the scope the route declares with
 * `@RequireScope`. A `/v1` route that declares no scope is refused (fail closed). Tokens are checked against
 * an in-memory registry refreshed from Postgres every `refreshMs`: no database round trip per request.
 */
import { Inject, Injectable, SetMetadata, type CanActivate, type ExecutionContext, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { TokenRegistry, TokenStore, type Scope } from '@access/platform-auth';
import { ProblemException } from './problem';

const SCOPE_KEY = 'access:scope';
export const RequireScope = (scope: Scope) => SetMetadata(SCOPE_KEY, scope);

export const TOKEN_STORE = Symbol('TOKEN_STORE');
export const LOGGER = Symbol('LOGGER');

@Injectable()
export class ScopeGuard implements CanActivate {
  constructor(
    @Inject(Reflector) private readonly reflector: Reflector,
    @Inject(TokenRegistry) private readonly registry: TokenRegistry,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const scope = this.reflector.getAllAndOverride<Scope | undefined>(SCOPE_KEY, [context.getHandler(), context.getClass()]);
    const path = request.url.split('?')[0] ?? '';
    if (!path.startsWith('/v1/') && scope === undefined) return true;
    if (scope === undefined) throw ProblemException.of(403, 'AUTH.NO_SCOPE_DECLARED', 'This route declares no scope and is closed.');
    const result = this.registry.check(request.headers.authorization, scope);
    if (result.ok) return true;
    throw ProblemException.of(result.status, result.code, result.detail, {}, result.status === 401 ? { 'www-authenticate': 'Bearer' } : {});
  }
}

/** Keeps the TokenRegistry in step with Postgres. */
@Injectable()
export class TokenRefresher implements OnModuleInit, OnModuleDestroy {
  private timer: NodeJS.Timeout | undefined;
  private lastOk = false;

  constructor(
    @Inject(TokenRegistry) private readonly registry: TokenRegistry,
    @Inject(TOKEN_STORE) private readonly store: TokenStore,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  readonly refreshMs = Number(process.env.TOKEN_REFRESH_MS ?? 5_000);

  get loaded(): boolean {
    return this.lastOk;
  }

  async refresh(): Promise<void> {
    try {
      this.registry.replaceAll(await this.store.active());
      this.lastOk = true;
    } catch (error) {
      // Keep the last known set: an unreachable database must not lock every caller out.
      this.logger.warn({ err: error }, 'token refresh failed; keeping the previous set');
    }
  }

  async onModuleInit(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.refreshMs);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
