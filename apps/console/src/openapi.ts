import type { Operation } from '@access/platform-http';

const read = (path: string, summary: string, parameters?: Operation['parameters']): Operation => ({
  method: 'get',
  path,
  summary,
  scope: 'ledger:read',
  ...(parameters ? { parameters } : {}),
  responses: { 200: { description: 'OK' }, 503: { description: 'A service or ClickHouse did not answer' } },
});
const account = { name: 'accountId', in: 'path' as const };

/** The console's API, as /docs shows it. */
export const consoleOperations: Operation[] = [
  read('/v1/console/session', 'The signed-in token: its name and scopes'),
  read('/v1/console/overview', 'Decisions per second by outcome, multipliers per class, consumer lag, balance freshness, dead letters per hour'),
  read('/v1/console/accounts', 'Accounts whose id contains q, most recently active first', [{ name: 'q', in: 'query' }]),
  read('/v1/console/accounts/{accountId}', 'Balance and grants in burn order, open holds, usage by model and endpoint, recent decisions', [account]),
  read('/v1/console/accounts/{accountId}/events', 'The account ledger events, a page at a time', [account, { name: 'afterVersion', in: 'query' }, { name: 'limit', in: 'query' }]),
  read('/v1/console/limits', 'Plans, multipliers in force and why, the most active users and their reputation'),
  read('/v1/console/deadletters', 'Dead letters, newest first, with the decoded value and the reason'),
  {
    method: 'post',
    path: '/v1/console/deadletters/redrive',
    summary: 'Republish a dead message (key, value) to its original topic',
    scope: 'ledger:admin',
    responses: { 202: { description: 'Republished' }, 404: { description: 'No such dead letter' } },
  },
];
