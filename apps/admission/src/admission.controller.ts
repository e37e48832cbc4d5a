import { Body, Controller, HttpCode, Inject, Param, Post, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AdmissionService } from '@access/admission-application';
import {
  AdmissionRouter,
  FORWARDED_HEADER,
  parseAdmissionRequest,
  parseCompletionRequest,
  renderAdmitOutcome,
  renderCompleteOutcome,
  type HttpAnswer,
  type RoutedAnswer,
} from '@access/admission-adapters';
import { RequireScope, inServerSpan } from '@access/platform-http';
import type { Traced } from '@access/platform-observability';

/**
 * The admission API of CONTRACTS.md. Thin: parse the body at the edge (400 naming each bad field), route it to the
 * replica that owns the account (here, or forwarded, the owner's answer returned unchanged), hand it to the use case
 * there, render the outcome (status, RateLimit headers, problem+json).
 */
@Controller('v1/admissions')
export class AdmissionController {
  constructor(
    @Inject(AdmissionService) private readonly service: AdmissionService,
    @Inject(AdmissionRouter) private readonly router: AdmissionRouter,
  ) {}

  @Post()
  @HttpCode(200)
  @RequireScope('admission:decide')
  async admit(@Body() body: unknown, @Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply): Promise<object> {
    // The decision is published in this span's trace (a child of the caller's traceparent, if it sent one).
    const routed = await inServerSpan('POST', '/v1/admissions', request.headers, async (span) => {
      const input = parseAdmissionRequest(body);
      return this.router.route(routedRequest(request, input.accountId, body, span), async () => {
        const outcome = await this.service.admit(input, span.traceparent);
        return outcome.kind === 'not_owner' ? 'not_owner' : renderAdmitOutcome(outcome);
      });
    }, statusOf);
    return send(reply, routed);
  }

  @Post(':admissionId/complete')
  @HttpCode(202)
  @RequireScope('admission:decide')
  async complete(
    @Param('admissionId') admissionId: string,
    @Body() body: unknown,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<object> {
    const routed = await inServerSpan('POST', '/v1/admissions/:admissionId/complete', request.headers, async (span) => {
      const data = parseCompletionRequest(admissionId, body);
      return this.router.route(routedRequest(request, data.accountId, body, span), async () => {
        const outcome = await this.service.complete(data, span.traceparent);
        return outcome.kind === 'not_owner' ? 'not_owner' : renderCompleteOutcome(admissionId, outcome);
      });
    }, statusOf);
    return send(reply, routed);
  }
}

const statusOf = (routed: RoutedAnswer) => routed.answer.status;

/**
 * What the owner needs to decide the same request: the route, the caller's credentials, the trace (this replica's
 * span as the parent; tracing off, the caller's context), the body.
 */
function routedRequest(request: FastifyRequest, accountId: string, body: unknown, span: Traced) {
  const authorization = request.headers.authorization;
  const headers: Record<string, string> = { ...span.headers() };
  if (typeof authorization === 'string') headers.authorization = authorization;
  const forwardedBy = request.headers[FORWARDED_HEADER];
  return { accountId, path: request.url, headers, body: () => JSON.stringify(body), forwardedBy: typeof forwardedBy === 'string' ? forwardedBy : undefined };
}

function send(reply: FastifyReply, routed: RoutedAnswer): object {
  const answer: HttpAnswer | { status: number; headers: Record<string, string>; body: Buffer } = routed.answer;
  void reply.status(answer.status).headers(answer.headers);
  return answer.body;
}
