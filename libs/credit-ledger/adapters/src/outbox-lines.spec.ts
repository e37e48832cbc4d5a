/**
 * The outbox row's line format: balance lines carry the time of their oldest cause as an optional fourth field,
 * lines without it (older rows, ledger events, dead letters) still parse, and coalescing an account's balances
 * keeps the newest balance with the earliest cause.
 */
import { describe, expect, it } from 'vitest';
import { coalesceBalances, formatOutboxLine, parseOutboxLine, type OutboxLine } from './outbox-lines';

// A value as JSON.stringify writes it: a tab or a newline inside a string is escaped, never raw.
const json = JSON.stringify({ data: { accountId: 'acct-1', note: 'a\ttab and a\nnewline' } });

describe('outbox lines', () => {
  it.each<[string, string, OutboxLine]>([
    ['a balance with its cause', formatOutboxLine('balance', 'acct-1', json, 1_700_000_000_123), { kind: 'balance', key: 'acct-1', value: json, causedAtMs: 1_700_000_000_123 }],
    ['a balance without a cause', formatOutboxLine('balance', 'acct-1', json), { kind: 'balance', key: 'acct-1', value: json, causedAtMs: null }],
    ['a row written before the field existed', `balance\tacct-1\t${json}`, { kind: 'balance', key: 'acct-1', value: json, causedAtMs: null }],
    ['a ledger event', formatOutboxLine('ledger', 'acct-1', '{"a":1}'), { kind: 'ledger', key: 'acct-1', value: '{"a":1}', causedAtMs: null }],
    ['a dead letter keyed by topic', formatOutboxLine('deadletter', 'access.usage.v1', '{}'), { kind: 'deadletter', key: 'access.usage.v1', value: '{}', causedAtMs: null }],
    ['a fourth field that is not a time', `balance\tacct-1\t${json}\tsoon`, { kind: 'balance', key: 'acct-1', value: json, causedAtMs: null }],
  ])('given %s, then it parses back to kind, key, value and cause', (_name, line, expected) => {
    expect(line.includes('\n')).toBe(false);
    expect(parseOutboxLine(line)).toEqual(expected);
  });

  it('writes the cause as the fourth tab-separated field in decimal milliseconds', () => {
    expect(formatOutboxLine('balance', 'k', '{}', 42)).toBe('balance\tk\t{}\t42');
    expect(formatOutboxLine('balance', 'k', '{}', null)).toBe('balance\tk\t{}');
  });
});

describe('coalesceBalances', () => {
  const line = (kind: string, key: string, value: string, causedAtMs: number | null = null): OutboxLine => ({ kind, key, value, causedAtMs });

  it.each<[string, OutboxLine[], OutboxLine[]]>([
    [
      'several balances of one account: the newest, with the earliest cause',
      [line('balance', 'a', 'v1', 300), line('ledger', 'a', 'e1'), line('balance', 'a', 'v2', 100), line('balance', 'a', 'v3', 200)],
      [line('ledger', 'a', 'e1'), line('balance', 'a', 'v3', 100)],
    ],
    [
      'a cause only on an older balance: the newest takes it',
      [line('balance', 'a', 'v1', 500), line('balance', 'a', 'v2', null)],
      [line('balance', 'a', 'v2', 500)],
    ],
    [
      'no cause anywhere: none',
      [line('balance', 'a', 'v1'), line('balance', 'a', 'v2')],
      [line('balance', 'a', 'v2')],
    ],
    [
      'accounts are coalesced separately, and other lines keep their order',
      [line('balance', 'a', 'a1', 10), line('balance', 'b', 'b1', 5), line('deadletter', 't', 'd'), line('balance', 'a', 'a2', 20), line('ledger', 'b', 'e')],
      [line('balance', 'b', 'b1', 5), line('deadletter', 't', 'd'), line('balance', 'a', 'a2', 10), line('ledger', 'b', 'e')],
    ],
    ['nothing', [], []],
  ])('given %s', (_name, lines, expected) => {
    expect(coalesceBalances(lines)).toEqual(expected);
  });
});
