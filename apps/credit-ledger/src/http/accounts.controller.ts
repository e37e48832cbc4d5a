/** The ledger's `/v1/accounts` routes: parse at the edge, call LedgerApi, set the status. */
import { Body, Controller, Get, Inject, Param, Post, Put, Query, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { RequireScope, parseOrThrow } from '@access/platform-http';
import { LedgerApi, type Answer } from './ledger-api';
import { accountIdParam, adjustmentBody, eventsQuery, grantBody, putAccountBody } from './schemas';

const INVALID = 'LEDGER.INVALID_REQUEST';

function account(raw: string): string {
  return parseOrThrow(accountIdParam, { accountId: raw }, INVALID, 'account id').accountId;
}

function send(reply: FastifyReply, answer: Answer): unknown {
  void reply.status(answer.status);
  return answer.body;
}

@Controller('v1/accounts')
export class AccountsController {
  constructor(@Inject(LedgerApi) private readonly api: LedgerApi) {}

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
