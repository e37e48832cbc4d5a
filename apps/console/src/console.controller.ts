/**
 * The console's API under /v1/console: each route declares the scope it needs (ledger:read to look,
 * ledger:admin to redrive). Reads go to the services' HTTP APIs with the operator's own token, so a service
 * applies its own checks too, and to ClickHouse as the read-only analyst.
 */
import { Body, Controller, Get, Headers, HttpCode, Inject, Param, Post, Query } from '@nestjs/common';
import { z } from 'zod';
import { SCOPES, TokenRegistry } from '@access/platform-auth';
import type { Clickhouse } from '@access/platform-clickhouse';
import { ProblemException, RequireScope, parseOrThrow } from '@access/platform-http';
import { redriveMessage, type EventProducer } from '@access/platform-kafka';
import type { Plan } from '@access/catalog';
import { decodeValue, type DeadLetterTail } from './deadletter-tail';
import { consoleLimits as L } from './limits';
import type { OpsMetrics } from './ops-metrics';
import { accountDecisions, accountOpenHolds, accountUsage, bucketsOf, decisionsByOutcome, mostActiveUsers, multipliersByClass, searchAccounts, toSeries } from './queries';

export const CONSOLE_DEPENDENCIES = Symbol('CONSOLE_DEPENDENCIES');

export interface ConsoleDependencies {
  clickhouse: Clickhouse;
  producer: EventProducer;
  deadLetters: DeadLetterTail;
  ops: OpsMetrics;
  plans: ReadonlyMap<string, Plan>;
  ledgerUrl: string;
  loadFeedbackUrl: string;
}

const INVALID = 'CONSOLE.INVALID_REQUEST';
const accountIdParam = z.object({ accountId: z.string().regex(/^[A-Za-z0-9._:@-]{1,128}$/, 'expected an account id') });
const searchQuery = z.object({ q: z.string().max(128).default('') });
const eventsQuery = z.object({
  afterVersion: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(L.eventsPageSizeMax).default(25),
});
const redriveBody = z.object({ id: z.string().min(1).max(400) });

@Controller('v1/console')
export class ConsoleController {
  constructor(
    @Inject(CONSOLE_DEPENDENCIES) private readonly deps: ConsoleDependencies,
    @Inject(TokenRegistry) private readonly tokens: TokenRegistry,
  ) {}

  /** Who is signed in and what their token allows: the page shows and enables what the scopes permit. */
  @Get('session')
  @RequireScope('ledger:read')
  session(@Headers('authorization') authorization: string) {
    const scopes = SCOPES.filter((s) => this.tokens.check(authorization, s).ok);
    const check = this.tokens.check(authorization, 'ledger:read');
    return { name: check.ok ? check.name : null, scopes };
  }

  @Get('overview')
  @RequireScope('ledger:read')
  async overview() {
    const [decisionRows, multiplierRows] = await Promise.all([
      this.query<{ t: number; outcome: string; n: string }>(decisionsByOutcome(L.overviewWindowS, L.decisionsBucketS)),
      this.query<{ t: number; class: string; multiplier: number }>(multipliersByClass(L.overviewWindowS, L.multipliersBucketS)),
    ]);
    const ops = this.deps.ops.view();
    return {
      // Every bucket of the window, 0 where nothing was decided, so that a quiet stretch reads as 0 per second.
      decisions: toSeries(decisionRows, (r) => Number(r.t), (r) => r.outcome, (r) => Number(r.n) / L.decisionsBucketS, bucketsOf(Date.now() / 1000, L.overviewWindowS, L.decisionsBucketS), 0),
      // Null where a class had no decision: what applied then is unknown, so no line is drawn across.
      multipliers: toSeries(multiplierRows, (r) => Number(r.t), (r) => r.class, (r) => Math.round(Number(r.multiplier) * 1000) / 1000, bucketsOf(Date.now() / 1000, L.overviewWindowS, L.multipliersBucketS)),
      lag: { t: ops.t, series: ops.lag },
      freshness: { t: ops.t, series: { p50: ops.freshnessMs.p50, p99: ops.freshnessMs.p99 } },
      deadLettersPerHour: this.deps.deadLetters.perHour(Date.now(), L.deadLetterHours),
      problems: ops.problems,
    };
  }

  @Get('accounts')
  @RequireScope('ledger:read')
  async accounts(@Query() query: unknown) {
    const { q } = parseOrThrow(searchQuery, query ?? {}, INVALID, 'query');
    return { accounts: await this.query(searchAccounts(q, L.accountSearchRowsMax)) };
  }

  @Get('accounts/:accountId')
  @RequireScope('ledger:read')
  async account(@Param('accountId') raw: string, @Headers('authorization') authorization: string) {
    const { accountId } = parseOrThrow(accountIdParam, { accountId: raw }, INVALID, 'account id');
    const [balance, holds, usageRows, decisions] = await Promise.all([
      this.upstream(`${this.deps.ledgerUrl}/v1/accounts/${accountId}/balance`, authorization, true),
      this.query(accountOpenHolds(accountId, L.accountHoldsMax)),
      this.query<{ t: number; series: string; requests: string; charged_credits: string }>(accountUsage(accountId, L.usageWindowS, L.usageBucketS)),
      this.query(accountDecisions(accountId, L.accountDecisionsMax)),
    ]);
    return {
      accountId,
      // The ledger lists grants in the order holds burn them (its balance view sorts them so).
      balance,
      holds,
      usage: {
        requests: toSeries(usageRows, (r) => Number(r.t), (r) => r.series, (r) => Number(r.requests)),
        chargedCredits: toSeries(usageRows, (r) => Number(r.t), (r) => r.series, (r) => Number(r.charged_credits)),
      },
      decisions,
    };
  }

  @Get('accounts/:accountId/events')
  @RequireScope('ledger:read')
  async events(@Param('accountId') raw: string, @Query() query: unknown, @Headers('authorization') authorization: string) {
    const { accountId } = parseOrThrow(accountIdParam, { accountId: raw }, INVALID, 'account id');
    const { afterVersion, limit } = parseOrThrow(eventsQuery, query ?? {}, INVALID, 'query');
    return this.upstream(`${this.deps.ledgerUrl}/v1/accounts/${accountId}/events?afterVersion=${afterVersion}&limit=${limit}`, authorization, false);
  }

  @Get('limits')
  @RequireScope('ledger:read')
  async limits(@Headers('authorization') authorization: string) {
    const [controller, users] = await Promise.all([
      this.upstream(`${this.deps.loadFeedbackUrl}/v1/limits`, authorization, false).catch((error: unknown) => ({ unavailable: error instanceof ProblemException ? error.body.detail : String(error) })),
      this.query<{ account_id: string; user_id: string }>(mostActiveUsers(L.activeUsersMax)),
    ]);
    const factors = new Map(((controller as { reputation?: { accountId: string; userId: string; factor: number }[] }).reputation ?? []).map((r) => [`${r.accountId}|${r.userId}`, r.factor]));
    return {
      plans: [...this.deps.plans.values()].map((p) => ({
        name: p.name,
        description: p.description,
        requestsPerMinute: p.requestsPerMinute,
        concurrentRequests: p.concurrentRequests,
        creditsPerMinute: p.creditsPerMinute,
        priorities: p.priorities,
        allowance: p.allowance.map((a) => ({ family: a.family, window: a.window, credits: a.credits })),
      })),
      controller,
      activeUsers: users.map((u) => ({ ...u, factor: factors.get(`${u.account_id}|${u.user_id}`) ?? 1 })),
    };
  }

  @Get('deadletters')
  @RequireScope('ledger:read')
  deadLetters() {
    const tail = this.deps.deadLetters;
    return {
      topic: tail.topic,
      total: tail.size,
      unreadable: tail.unreadable,
      deadLetters: tail.list(L.deadLettersListedMax).map((l) => ({
        id: l.id,
        recordedAt: l.recordedAt,
        topic: l.data.topic,
        partition: l.data.partition,
        offset: l.data.offset,
        key: l.data.key,
        consumer: l.data.consumer,
        reason: l.data.error,
        value: decodeValue(l.data.valueBase64, L.deadLetterValueShownCharsMax),
      })),
    };
  }

  /** Republishes the dead message's key and value to its original topic (platform-kafka's redriveMessage). */
  @Post('deadletters/redrive')
  @HttpCode(202)
  @RequireScope('ledger:admin')
  async redrive(@Body() body: unknown) {
    const { id } = parseOrThrow(redriveBody, body, INVALID);
    const letter = this.deps.deadLetters.get(id);
    if (letter === undefined) throw ProblemException.of(404, 'CONSOLE.DEADLETTER_NOT_FOUND', `No dead letter ${id} is known to this console.`);
    const message = redriveMessage(letter);
    await this.deps.producer.send(message);
    return { redriven: id, topic: message.topic, key: message.key };
  }

  private async query<R>(text: string): Promise<R[]> {
    try {
      return await this.deps.clickhouse.query<R>(text);
    } catch (error) {
      throw ProblemException.of(503, 'CONSOLE.CLICKHOUSE_UNAVAILABLE', `ClickHouse did not answer: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
    }
  }

  /** GET from a service with the operator's token; its problem answers come back as they are. 404 → null when `nullOn404`. */
  private async upstream(url: string, authorization: string, nullOn404: boolean): Promise<unknown> {
    let response: Response;
    try {
      response = await fetch(url, { headers: { authorization }, signal: AbortSignal.timeout(L.upstreamTimeoutMs) });
    } catch (error) {
      throw ProblemException.of(503, 'CONSOLE.SERVICE_UNAVAILABLE', `${new URL(url).host} did not answer: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (response.status === 404 && nullOn404) return null;
    const body = (await response.json().catch(() => null)) as Record<string, unknown> | null;
    if (response.status >= 400) {
      const detail = typeof body?.['detail'] === 'string' ? body['detail'] : `HTTP ${response.status}`;
      const code = typeof body?.['code'] === 'string' ? body['code'] : 'CONSOLE.UPSTREAM_ERROR';
      throw ProblemException.of(response.status, code, detail);
    }
    return body;
  }
}
