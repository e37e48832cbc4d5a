/**
 * The outbox row's line format: balance lines carry the time of their oldest cause as an optional fourth field,
 * any line the traceparent of its cause as an optional fifth; lines without them (older rows) still parse, and
 * coalescing an account's balances keeps the newest balance with the earliest cause and its own trace.
 */
import { describe, expect, it } from 'vitest';
import { coalesceBalances, formatOutboxLine, parseOutboxLine, type OutboxLine } from './outbox-lines';

const tp = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
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
    ['a balance with its cause and trace', formatOutboxLine('balance', 'acct-1', json, 42, tp), { kind: 'balance', key: 'acct-1', value: json, causedAtMs: 42, traceparent: tp }],
    ['a ledger event with a trace only', formatOutboxLine('ledger', 'acct-1', json, null, tp), { kind: 'ledger', key: 'acct-1', value: json, causedAtMs: null, traceparent: tp }],
    ['a trace that is not a traceparent, written by hand', `ledger\tacct-1\t${json}\t\tnonsense`, { kind: 'ledger', key: 'acct-1', value: json, causedAtMs: null }],
  ])('given %s, then it parses back to kind, key, value and cause', (_name, line, expected) => {
    expect(line.includes('\n')).toBe(false);
    expect(parseOutboxLine(line)).toEqual(expected);
  });

  it('writes the cause as the fourth tab-separated field in decimal milliseconds', () => {
    expect(formatOutboxLine('balance', 'k', '{}', 42)).toBe('balance\tk\t{}\t42');
    expect(formatOutboxLine('balance', 'k', '{}', null)).toBe('balance\tk\t{}');
  });

  it('writes the traceparent as the fifth field (the fourth empty without a cause), and never one that could break the line', () => {
    expect(formatOutboxLine('ledger', 'k', '{}', null, tp)).toBe(`ledger\tk\t{}\t\t${tp}`);
    expect(formatOutboxLine('balance', 'k', '{}', 42, tp)).toBe(`balance\tk\t{}\t42\t${tp}`);
    expect(formatOutboxLine('deadletter', 'k', '{}', null, `${tp}\nledger\tforged\t{}`)).toBe('deadletter\tk\t{}');
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
    [
      'the balance kept keeps its own trace (its newest cause)',
      [{ ...line('balance', 'a', 'v1', 100), traceparent: tp }, { ...line('balance', 'a', 'v2', 200), traceparent: tp.replace('b7ad', 'c8be') }],
      [{ ...line('balance', 'a', 'v2', 100), traceparent: tp.replace('b7ad', 'c8be') }],
    ],
    ['nothing', [], []],
  ])('given %s', (_name, lines, expected) => {
    expect(coalesceBalances(lines)).toEqual(expected);
  });
});
