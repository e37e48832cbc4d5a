import { Body, Controller, Headers, HttpCode, Inject, Param, Post, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { AdmissionService } from '@access/admission-application';
import { parseAdmissionRequest, parseCompletionRequest, renderAdmitOutcome, renderCompleteOutcome, type HttpAnswer } from '@access/admission-adapters';
import { RequireScope } from '@access/platform-http';
import { childTraceparent } from '@access/platform-kafka';

/**
 * The admission API of CONTRACTS.md. Thin: parse the body at the edge (400 naming each bad field), hand
 * it to the use case, render the outcome (status, RateLimit headers, problem+json).
 */
@Controller('v1/admissions')
export class AdmissionController {
  constructor(@Inject(AdmissionService) private readonly service: AdmissionService) {}

  @Post()
  @HttpCode(200)
  @RequireScope('admission:decide')
  async admit(@Body() body: unknown, @Headers('traceparent') traceparent: string | undefined, @Res({ passthrough: true }) reply: FastifyReply): Promise<object> {
    const input = parseAdmissionRequest(body);
    const outcome = await this.service.admit(input, traceparent === undefined ? undefined : childTraceparent(traceparent));
    return send(reply, renderAdmitOutcome(outcome));
  }

  @Post(':admissionId/complete')
  @HttpCode(202)
  @RequireScope('admission:decide')
  async complete(
    @Param('admissionId') admissionId: string,
    @Body() body: unknown,
    @Headers('traceparent') traceparent: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<object> {
    const data = parseCompletionRequest(admissionId, body);
    const outcome = await this.service.complete(data, traceparent === undefined ? undefined : childTraceparent(traceparent));
    return send(reply, renderCompleteOutcome(admissionId, outcome));
  }
}

function send(reply: FastifyReply, answer: HttpAnswer): object {
  void reply.status(answer.status).headers(answer.headers);
  return answer.body;
}
