import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { identifier, inList, quote, quoteString, sql, ident, SqlQuotingError } from './quote';

describe('quote', () => {
  it.each([
    ['plain', 'abc', "'abc'"],
    ['single quote', "O'Brien", "'O\\'Brien'"],
    ['backslash', 'a\\b', "'a\\\\b'"],
    ['backslash before quote', "\\'", "'\\\\\\''"],
    ['injection attempt', "x'); DROP TABLE t; --", "'x\\'); DROP TABLE t; --'"],
    ['newline and tab', 'a\nb\tc\r', "'a\\nb\\tc\\r'"],
    ['nul byte', 'a\0b', "'a\\0b'"],
    ['other control', 'a\u0001b\u007f', "'a\\x01b\\x7f'"],
    ['unicode', 'naïve 🙂', "'naïve 🙂'"],
    ['empty', '', "''"],
  ])('%s', (_name, input, expected) => {
    expect(quoteString(input)).toBe(expected);
  });

  it.each([
    [null, 'NULL'],
    [42, '42'],
    [-1.5, '-1.5'],
    [true, '1'],
    [10n, '10'],
    [new Date('2026-11-25T10:20:30.456Z'), "'2026-11-25 10:20:30'"],
    [['a', 1, null], "['a', 1, NULL]"],
  ] as const)('quotes %s', (value, expected) => {
    expect(quote(value)).toBe(expected);
  });

  it.each([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY])('rejects non-finite number %s', (n) => {
    expect(() => quote(n)).toThrow(SqlQuotingError);
  });

  it('rejects lone surrogates rather than altering them', () => {
    expect(() => quote('a\ud800b')).toThrow(SqlQuotingError);
  });

  it('never leaves an unescaped quote or a raw control character (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        let text: string;
        try {
          text = quoteString(s);
        } catch (e) {
          expect(e).toBeInstanceOf(SqlQuotingError);
          return;
        }
        const inner = text.slice(1, -1);
        // Scan as ClickHouse's lexer does: a backslash consumes the next character.
        for (let i = 0; i < inner.length; i++) {
          const ch = inner[i]!;
          if (ch === '\\') {
            i++;
            continue;
          }
          expect(ch).not.toBe("'");
          expect(ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f).toBe(false);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('identifier', () => {
  it.each(['access', 'request_usage', '_x1'])('accepts %s', (name) => {
    expect(identifier(name)).toBe(`\`${name}\``);
  });
  it.each(['', '1abc', 'a-b', 'a`b', 'a b', 'x;DROP', 'a'.repeat(129), 'db.table'])('rejects %j', (name) => {
    expect(() => identifier(name)).toThrow(SqlQuotingError);
  });
});

describe('sql template', () => {
  it('renders IN lists and refuses empty ones', () => {
    expect(sql`x IN ${inList(["a'b", 2])}`).toBe("x IN ('a\\'b', 2)");
    expect(() => inList([])).toThrow(SqlQuotingError);
  });
  it('quotes values and identifiers', () => {
    expect(sql`SELECT * FROM ${ident('t')} WHERE a = ${"it's"} AND b IN ${[1, 2]}`).toBe(
      "SELECT * FROM `t` WHERE a = 'it\\'s' AND b IN [1, 2]",
    );
  });
});
