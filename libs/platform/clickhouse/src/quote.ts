/**
 * The one function that places values into ClickHouse SQL. ClickHouse 18.16 has no query parameters, so
 * every value that reaches SQL text goes through `quote` (values) or `identifier` (names), and nowhere else.
 *
 * String literals: single quotes, with backslash escapes for the backslash, the quote and every control
 * character (ClickHouse's string-literal grammar, which treats `\` as an escape). Non-ASCII text passes as
 * UTF-8. Lone UTF-16 surrogates cannot be encoded and are rejected rather than silently altered.
 */
export type SqlValue = string | number | bigint | boolean | null | Date | readonly SqlValue[];

export class SqlQuotingError extends Error {
  override readonly name = 'SqlQuotingError';
}

const controlEscapes: Record<string, string> = {
  '\\': '\\\\',
  "'": "\\'",
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\0': '\\0',
  '\b': '\\b',
  '\f': '\\f',
};

// Backslash, quote and every C0 control character plus DEL.
const needsEscape = /[\\'\u0000-\u001f\u007f]/g;
const loneSurrogate = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function escapeChar(ch: string): string {
  return controlEscapes[ch] ?? `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`;
}

export function quoteString(value: string): string {
  if (loneSurrogate.test(value)) throw new SqlQuotingError('string contains a lone UTF-16 surrogate');
  return `'${value.replace(needsEscape, escapeChar)}'`;
}

/** `2026-11-25 10:00:00` in UTC: the literal form of a ClickHouse DateTime. */
export function dateTimeLiteral(value: Date): string {
  const time = value.getTime();
  if (!Number.isFinite(time)) throw new SqlQuotingError('invalid Date');
  return value.toISOString().slice(0, 19).replace('T', ' ');
}

export function quote(value: SqlValue): string {
  if (value === null) return 'NULL';
  if (typeof value === 'string') return quoteString(value);
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'boolean') return value ? '1' : '0';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new SqlQuotingError(`not a finite number: ${value}`);
    return String(value);
  }
  if (value instanceof Date) return quoteString(dateTimeLiteral(value));
  if (Array.isArray(value)) return `[${value.map(quote).join(', ')}]`;
  throw new SqlQuotingError(`cannot quote a value of type ${typeof value}`);
}

const identifierPattern = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

/** A database, table or column name: validated against a strict pattern, then back-quoted. */
export function identifier(name: string): string {
  if (!identifierPattern.test(name)) throw new SqlQuotingError(`not a valid identifier: ${JSON.stringify(name)}`);
  return `\`${name}\``;
}

/**
 * Tagged template that quotes every interpolated value: sql`SELECT * FROM t WHERE id = ${id}`.
 * Wrap names with `ident(name)` to interpolate an identifier instead of a value.
 */
export class Identifier {
  constructor(readonly name: string) {}
}
export const ident = (name: string): Identifier => new Identifier(name);

/** A parenthesised list for `IN`: sql`… WHERE id IN ${inList(ids)}` → `IN ('a', 'b')`. Empty lists are refused. */
export class InList {
  constructor(readonly values: readonly SqlValue[]) {}
}
export const inList = (values: readonly SqlValue[]): InList => {
  if (values.length === 0) throw new SqlQuotingError('IN () needs at least one value');
  return new InList(values);
};

export function sql(strings: TemplateStringsArray, ...values: (SqlValue | Identifier | InList)[]): string {
  let text = strings[0] ?? '';
  values.forEach((value, i) => {
    const rendered =
      value instanceof Identifier ? identifier(value.name) : value instanceof InList ? `(${value.values.map(quote).join(', ')})` : quote(value);
    text += rendered + (strings[i + 1] ?? '');
  });
  return text;
}
