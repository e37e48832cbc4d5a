/**
 * RED metrics for every HTTP route of every service: a request counter and a duration histogram, both by
 * method, route and status. The route is Fastify's route pattern (`/v1/accounts/:accountId/balance`), never
 * the raw URL, so an account id never becomes a label value and the series stay bounded; a request that
 * matched no route is counted under `unmatched`.
 */
import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Counter, Histogram, type Registry } from 'prom-client';

/** Seconds; from well under a millisecond (admission's hot path) to the longest a proxy would wait. */
export const HTTP_DURATION_BUCKETS_SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface RequestMetrics {
  readonly requests: Counter<'method' | 'route' | 'status'>;
  readonly duration: Histogram<'method' | 'route' | 'status'>;
}

export function createRequestMetrics(registry: Registry): RequestMetrics {
  const labelNames = ['method', 'route', 'status'] as const;
  return {
    requests: new Counter({ name: 'http_requests_total', help: 'HTTP requests answered, by method, route and status', labelNames, registers: [registry] }),
    duration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'Time from the request arriving to the response sent, by method, route and status',
      labelNames,
      buckets: HTTP_DURATION_BUCKETS_SECONDS,
      registers: [registry],
    }),
  };
}

/** The route pattern a request matched, or `unmatched` (a 404 for an unknown path). */
export function routeOf(request: FastifyRequest): string {
  return request.routeOptions?.url ?? 'unmatched';
}

/** Records every response on `fastify` into `metrics` (an onResponse hook: it runs after the reply is sent). */
export function recordRequests(fastify: FastifyInstance, metrics: RequestMetrics): void {
  fastify.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    const labels = { method: request.method, route: routeOf(request), status: String(reply.statusCode) };
    metrics.requests.inc(labels);
    metrics.duration.observe(labels, reply.elapsedTime / 1000);
    done();
  });
}

export const REQUEST_METRICS_REGISTRY = Symbol('REQUEST_METRICS_REGISTRY');

/** Installs `recordRequests` on the app's Fastify instance when the shell module starts. */
@Injectable()
export class RequestMetricsInstaller implements OnModuleInit {
  constructor(
    @Inject(HttpAdapterHost) private readonly host: HttpAdapterHost,
    @Inject(REQUEST_METRICS_REGISTRY) private readonly registry: Registry,
  ) {}

  onModuleInit(): void {
    const instance = this.host.httpAdapter?.getInstance?.() as FastifyInstance | undefined;
    if (instance === undefined || typeof instance.addHook !== 'function') return;
    recordRequests(instance, createRequestMetrics(this.registry));
  }
}
