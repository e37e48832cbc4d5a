/**
 * RFC 9457 problem details: every 4xx/5xx body is `application/problem+json` with a stable `code`.
 * Domain code returns values; only the HTTP edge turns them into ProblemExceptions.
 */
import { Catch, HttpException, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import type { Logger } from 'pino';

export interface FieldError {
  path: string;
  message: string;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  errors?: FieldError[];
  [extension: string]: unknown;
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

const titles: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  402: 'Payment Required',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export function problem(status: number, code: string, detail: string, extra: Partial<Problem> = {}): Problem {
  return {
    type: `https://access.internal/problems/${code.toLowerCase().replaceAll('.', '/').replaceAll('_', '-')}`,
    title: titles[status] ?? 'Error',
    status,
    detail,
    code,
    ...extra,
  };
}

export class ProblemException extends Error {
  constructor(
    readonly body: Problem,
    readonly headers: Record<string, string> = {},
  ) {
    super(body.detail);
  }
  static of(status: number, code: string, detail: string, extra: Partial<Problem> = {}, headers: Record<string, string> = {}) {
    return new ProblemException(problem(status, code, detail, extra), headers);
  }
}

export function sendProblem(reply: FastifyReply, body: Problem, headers: Record<string, string> = {}): void {
  void reply.status(body.status).headers(headers).header('content-type', PROBLEM_CONTENT_TYPE).send(body);
}

/** Maps everything thrown in a request to a problem response; unknown errors are logged and answered 500. */
@Catch()
export class ProblemFilter implements ExceptionFilter {
  constructor(private readonly logger: Logger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    if (exception instanceof ProblemException) return sendProblem(reply, exception.body, exception.headers);
    const fastifyCode = (exception as { code?: unknown })?.code;
    const statusCode = (exception as { statusCode?: unknown })?.statusCode;
    if (fastifyCode === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return sendProblem(reply, problem(413, 'HTTP.BODY_TOO_LARGE', 'The request body is larger than this endpoint accepts.'));
    }
    if (fastifyCode === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      return sendProblem(reply, problem(415, 'HTTP.UNSUPPORTED_MEDIA_TYPE', 'Send application/json.'));
    }
    if (typeof statusCode === 'number' && statusCode === 400) {
      return sendProblem(reply, problem(400, 'HTTP.MALFORMED_BODY', 'The request body is not valid JSON.'));
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      // Nest wraps Fastify's body-parser failures: a 400 here is a body that is not valid JSON.
      const codes: Record<number, string> = { 400: 'HTTP.MALFORMED_BODY', 404: 'HTTP.NOT_FOUND', 405: 'HTTP.METHOD_NOT_ALLOWED', 413: 'HTTP.BODY_TOO_LARGE', 415: 'HTTP.UNSUPPORTED_MEDIA_TYPE' };
      const code = codes[status] ?? `HTTP.${status}`;
      return sendProblem(reply, problem(status, code, exception.message));
    }
    this.logger.error({ err: exception }, 'unhandled error');
    sendProblem(reply, problem(500, 'HTTP.INTERNAL', 'An unexpected error occurred; it has been logged.'));
  }
}
