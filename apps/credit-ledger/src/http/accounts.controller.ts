/** The ledger's `/v1/accounts` routes: parse at the edge, call the account use cases, answer with a status or a problem. */
import { Body, Controller, Get, Inject, Param, Post, Put, Query, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { AccountUseCases, type Answer, type LedgerFailureCode } from '@access/credit-ledger-application';
import { ProblemException, RequireScope, parseOrThrow } from '@access/platform-http';
import { accountIdParam, adjustmentBody, eventsQuery, grantBody, putAccountBody } from './schemas';

const INVALID = 'LEDGER.INVALID_REQUEST';

function account(raw: string): string {
  return parseOrThrow(accountIdParam, { accountId: raw }, INVALID, 'account id').accountId;
}

/** The HTTP status of each failure the use cases answer with. */
const statusOf: Record<LedgerFailureCode, number> = {
  'LEDGER.INVALID_REQUEST': 400,
  'LEDGER.ACCOUNT_NOT_FOUND': 404,
  'LEDGER.CONFLICT': 409,
  'LEDGER.LIMIT_EXCEEDED': 422,
  'LEDGER.UNEXPECTED': 500,
};

function send(reply: FastifyReply, answer: Answer): unknown {
  if (!answer.ok) {
    const { code, detail, errors, existing } = answer.failure;
    throw ProblemException.of(statusOf[code], code, detail, {
      ...(errors === undefined ? {} : { errors: [...errors] }),
      ...(existing === undefined ? {} : { existing }),
    });
  }
  void reply.status(answer.created ? 201 : 200);
  return answer.body;
}

@Controller('v1/accounts')
export class AccountsController {
  constructor(@Inject(AccountUseCases) private readonly api: AccountUseCases) {}

  @Put(':accountId')
  @RequireScope('ledger:write')
  async put(@Param('accountId') accountId: string, @Body() body: unknown, @Res({ passthrough: true }) reply: FastifyReply) {
    const id = account(accountId);
    const { plan } = parseOrThrow(putAccountBody, body, INVALID);
    return send(reply, await this.api.putAccount(id, plan));
  }

  @Get(':accountId/balance')
  @RequireScope('ledger:read')
  async balance(@Param('accountId') accountId: string, @Res({ passthrough: true }) reply: FastifyReply) {
    return send(reply, await this.api.balance(account(accountId)));
  }

  @Post(':accountId/grants')
  @RequireScope('ledger:write')
  async grant(@Param('accountId') accountId: string, @Body() body: unknown, @Res({ passthrough: true }) reply: FastifyReply) {
    const id = account(accountId);
    return send(reply, await this.api.grant(id, parseOrThrow(grantBody, body, INVALID)));
  }

  @Post(':accountId/adjustments')
  @RequireScope('ledger:admin')
  async adjust(@Param('accountId') accountId: string, @Body() body: unknown, @Res({ passthrough: true }) reply: FastifyReply) {
    const id = account(accountId);
    return send(reply, await this.api.adjust(id, parseOrThrow(adjustmentBody, body, INVALID)));
  }

  @Get(':accountId/events')
  @RequireScope('ledger:read')
  async events(@Param('accountId') accountId: string, @Query() query: unknown, @Res({ passthrough: true }) reply: FastifyReply) {
    const id = account(accountId);
    const { afterVersion, limit } = parseOrThrow(eventsQuery, query ?? {}, INVALID, 'query');
    return send(reply, await this.api.events(id, afterVersion, limit));
  }
}
