import { Body, Controller, Headers, HttpCode, Inject, Param, Post, Req, Res } from '@nestjs/common';
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
import { RequireScope } from '@access/platform-http';
import { childTraceparent } from '@access/platform-kafka';

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
  async admit(
    @Body() body: unknown,
    @Headers('traceparent') traceparent: string | undefined,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<object> {
    const input = parseAdmissionRequest(body);
    const routed = await this.router.route(routedRequest(request, input.accountId, body), async () => {
      const outcome = await this.service.admit(input, traceparent === undefined ? undefined : childTraceparent(traceparent));
      return outcome.kind === 'not_owner' ? 'not_owner' : renderAdmitOutcome(outcome);
    });
    return send(reply, routed);
  }

  @Post(':admissionId/complete')
  @HttpCode(202)
  @RequireScope('admission:decide')
  async complete(
    @Param('admissionId') admissionId: string,
    @Body() body: unknown,
    @Headers('traceparent') traceparent: string | undefined,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<object> {
    const data = parseCompletionRequest(admissionId, body);
    const routed = await this.router.route(routedRequest(request, data.accountId, body), async () => {
      const outcome = await this.service.complete(data, traceparent === undefined ? undefined : childTraceparent(traceparent));
      return outcome.kind === 'not_owner' ? 'not_owner' : renderCompleteOutcome(admissionId, outcome);
    });
    return send(reply, routed);
  }
}

/** What the owner needs to decide the same request: the route, the caller's credentials and trace, the body. */
function routedRequest(request: FastifyRequest, accountId: string, body: unknown) {
  const headers: Record<string, string> = {};
  for (const name of ['authorization', 'traceparent', 'tracestate']) {
    const value = request.headers[name];
    if (typeof value === 'string') headers[name] = value;
  }
  const forwardedBy = request.headers[FORWARDED_HEADER];
  return { accountId, path: request.url, headers, body: () => JSON.stringify(body), forwardedBy: typeof forwardedBy === 'string' ? forwardedBy : undefined };
}

function send(reply: FastifyReply, routed: RoutedAnswer): object {
  const answer: HttpAnswer | { status: number; headers: Record<string, string>; body: Buffer } = routed.answer;
  void reply.status(answer.status).headers(answer.headers);
  return answer.body;
}
