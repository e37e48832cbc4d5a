import type { z } from 'zod';
import { parseDocument } from 'yaml';
import type { ConfigIssue, ParseResult } from './result';

/** `plans.free.allowance[0].window`: keys joined by dots, array indexes in brackets. */
export function formatPath(segments: readonly PropertyKey[]): string {
  let path = '';
  for (const segment of segments) {
    if (typeof segment === 'number') path += `[${segment}]`;
    else path += path === '' ? String(segment) : `.${String(segment)}`;
  }
  return path;
}

/**
 * Zod's issues as ConfigIssues. An unknown field is reported at its own path (so a typo such as
 * `requestPerMinute` points at itself), and a bad record key is reported as such.
 */
export function toConfigIssues(error: z.ZodError): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) issues.push({ path: formatPath([...issue.path, key]), message: 'unknown field' });
    } else if (issue.code === 'invalid_key') {
      const reason = issue.issues[0]?.message ?? issue.message;
      issues.push({ path: formatPath(issue.path), message: `invalid name: ${reason}` });
    } else {
      issues.push({ path: formatPath(issue.path), message: issue.message });
    }
  }
  return issues;
}

/**
 * Parses YAML text, then validates it with `schema`. YAML syntax errors (including duplicate keys) are
 * reported with their line and column; nothing throws.
 */
export function parseYamlWith<T>(yamlText: string, schema: z.ZodType<T>): ParseResult<T> {
  const document = parseDocument(yamlText, { uniqueKeys: true, prettyErrors: true });
  if (document.errors.length > 0) {
    return {
      ok: false,
      errors: document.errors.map((e) => {
        const at = e.linePos?.[0];
        // prettyErrors appends "at line L, column C:" and a code frame; keep the reason and the position.
        const reason = (e.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:$/, '');
        const where = at === undefined ? '' : `line ${at.line}, column ${at.col}: `;
        return { path: '', message: `YAML syntax error: ${where}${reason}` };
      }),
    };
  }
  const parsed = schema.safeParse(document.toJS({ maxAliasCount: 100 }));
  return parsed.success ? { ok: true, value: parsed.data } : { ok: false, errors: toConfigIssues(parsed.error) };
}
