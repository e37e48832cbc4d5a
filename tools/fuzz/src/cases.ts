/**
 * What the HTTP fuzz sends, as fast-check arbitraries (pure: no I/O). Two kinds of case:
 * - `invalid`: a valid body of a known route with one value replaced by one that no schema here accepts (a
 *   wrong type, a number out of every range, text that cannot be stored or is longer than any field), or a
 *   body that is not a JSON object at all; sent for the probe account, it must be answered 4xx and change nothing.
 * - `arbitrary`: anything (any JSON in any field, unknown keys, any body, odd paths, queries and methods),
 *   sent for a scratch account; it may be valid, so only "no 5xx" is asked of it.
 * Headers are mutated in both (content type, authorization, traceparent, extra headers).
 */
import fc from 'fast-check';

export interface Route {
  service: string;
  method: string;
  /** The OpenAPI path template, e.g. `/v1/accounts/{accountId}/grants`. */
  template: string;
}

export interface FuzzCase {
  kind: 'invalid' | 'arbitrary';
  service: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer | undefined;
  /** Short, for failure messages. */
  what: string;
}

/** A value standing for the JSON number 1e400, which JSON.stringify cannot write (it parses to Infinity). */
const HUGE = '\u0001huge\u0001';

/** Values that no field of these bodies accepts in place of a value of the given JSON type. */
function invalidFor(value: unknown): fc.Arbitrary<unknown> {
  if (typeof value === 'string') {
    return fc.constantFrom<unknown>({}, [], true, 12, null, '\u0000', 'a\uD800', 'x\uDFFFy', 'ok\u0000', 'é'.repeat(5_000), `${'x'.repeat(600)}`, HUGE);
  }
  // Not a large positive number: meters have no maximum, so 1e20 video seconds is a valid (if unfundable) estimate.
  if (typeof value === 'number') return fc.constantFrom<unknown>('12', {}, [], true, null, -1e20, HUGE);
  return fc.constantFrom<unknown>('x', 5, [], true, null, HUGE);
}

type Path = (string | number)[];

/** Every path to a value in a JSON object (objects and leaves, not the root). */
export function valuePaths(value: unknown, prefix: Path = []): Path[] {
  if (typeof value !== 'object' || value === null) return [];
  const out: Path[] = [];
  for (const [key, child] of Object.entries(value)) {
    const path = [...prefix, key];
    if (child === null) continue;
    out.push(path, ...valuePaths(child, path));
  }
  return out;
}

function getAt(value: unknown, path: Path): unknown {
  return path.reduce<unknown>((v, k) => (v as Record<string | number, unknown>)[k], value);
}

/** A copy of `value` with the value at `path` replaced (or the key removed when `replacement` is REMOVE). */
export function setAt(value: unknown, path: Path, replacement: unknown): unknown {
  const copy = structuredClone(value) as Record<string | number, unknown>;
  const parent = getAt(copy, path.slice(0, -1)) as Record<string | number, unknown>;
  parent[path[path.length - 1]!] = replacement;
  return copy;
}

export function jsonBytes(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value).replaceAll(JSON.stringify(HUGE), '1e400'), 'utf8');
}

/** Bodies that are not a JSON object: empty, truncated, not JSON, not UTF-8, too deep, too big. */
export const notAnObjectBody = fc.oneof(
  fc.constantFrom(
    Buffer.alloc(0),
    Buffer.from('null'),
    Buffer.from('[]'),
    Buffer.from('"text"'),
    Buffer.from('42'),
    Buffer.from('{'),
    Buffer.from('{"a":'),
    Buffer.from('{"a":1,}'),
    Buffer.from([0xff, 0xfe, 0x7b, 0x7d]),
    Buffer.from(`${'['.repeat(20_000)}${']'.repeat(20_000)}`),
    Buffer.from(`{"pad":"${'x'.repeat(200 * 1024)}"}`),
    Buffer.from('\u0000\u0000'),
  ),
  fc.string({ maxLength: 200 }).map((s) => Buffer.from(s, 'utf8')),
);

/** A header value Node will send (visible ASCII and spaces, no CR/LF). */
const headerText = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 300 });

export function headersArb(token: string): fc.Arbitrary<Record<string, string>> {
  const contentType = fc.constantFrom<string | undefined>(
    'application/json', 'application/json', 'application/json', 'application/json; charset=utf-8',
    'text/plain', 'application/json; charset=utf-16', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded', '', undefined,
  );
  const authorization = fc.oneof(
    { weight: 6, arbitrary: fc.constant<string | undefined>(`Bearer ${token}`) },
    { weight: 1, arbitrary: fc.constantFrom<string | undefined>(undefined, 'Bearer', 'Bearer ', `bearer ${token}`, `Bearer ${token} extra`, `Basic ${token}`, `Bearer acc_${'A'.repeat(43)}`, `Bearer ${token.slice(0, -1)}`) },
    { weight: 1, arbitrary: headerText.map((t) => `Bearer ${t}`) },
  );
  const traceparent = fc.oneof(
    { weight: 4, arbitrary: fc.constant<string | undefined>(undefined) },
    { weight: 1, arbitrary: fc.constantFrom<string | undefined>('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', 'ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', '00-00000000000000000000000000000000-0000000000000000-00', 'garbage', '') },
    { weight: 1, arbitrary: headerText },
  );
  const extra = fc.option(fc.tuple(fc.stringMatching(/^x-[a-z]{1,10}$/), headerText), { nil: undefined });
  return fc.record({ contentType, authorization, traceparent, extra, accept: fc.option(headerText, { nil: undefined }) }).map((h) => {
    const out: Record<string, string> = {};
    if (h.contentType !== undefined) out['content-type'] = h.contentType;
    if (h.authorization !== undefined) out.authorization = h.authorization;
    if (h.traceparent !== undefined) out.traceparent = h.traceparent;
    if (h.accept !== undefined) out.accept = h.accept;
    if (h.extra !== undefined) out[h.extra[0]] = h.extra[1];
    return out;
  });
}

/** Path segments worth trying in place of an id. */
const oddSegment = fc.oneof(
  fc.constantFrom('%00', '..', '%2e%2e', 'a%2Fb', 'x'.repeat(3_000), '%E0%A4%A', '%ZZ', '%C3%A9', '%F0%9F%8E%89', '%ED%A0%80', '__proto__', 'constructor', '%20', '-', '.', 'a:b', '01a241bf-f5f8-7527-a719-2d6efd058901'),
  fc.stringMatching(/^[A-Za-z0-9_.:~-]{1,40}$/),
);

const oddQuery = fc.oneof(
  fc.constant(''),
  fc.constantFrom('?afterVersion=-1', '?afterVersion=abc', '?afterVersion=1e309', `?afterVersion=${'9'.repeat(400)}`, '?limit=0', '?limit=1001', '?limit=1&limit=2', '?limit=', '?__proto__=1', '?constructor[prototype]=1', '?afterVersion=%00', '?unknown=1', '?afterVersion=1.5'),
  fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789=&%-_.'.split('')), maxLength: 40 }).map((q) => `?${q}`),
);

export interface CaseOptions {
  routes: readonly Route[];
  /** Valid base bodies of known routes by `METHOD template`, built for an account id. */
  baseBody(route: Route, accountId: string): unknown;
  /** Path parameters of a valid request for an account id. */
  pathParams(route: Route, accountId: string): Record<string, string>;
  token: string;
  probeAccountId: string;
  scratchAccountId: fc.Arbitrary<string>;
  services: readonly string[];
}

function fillPath(template: string, params: Record<string, string>): string {
  return template.replace(/\{([^}]+)\}/g, (_m, name: string) => encodeURIComponent(params[name] ?? 'x'));
}

/** Invalid requests for the probe account: one value made invalid, or the body not a JSON object. */
export function invalidCases(options: CaseOptions): fc.Arbitrary<FuzzCase> {
  const withBody = options.routes.filter((r) => r.method === 'post' || r.method === 'put');
  return fc.constantFrom(...withBody).chain((route) => {
    const base = options.baseBody(route, options.probeAccountId);
    const paths = valuePaths(base);
    const oneValue = paths.length === 0
      ? notAnObjectBody.map((body) => ({ body, what: 'not an object' }))
      : fc.constantFrom(...paths).chain((path) => invalidFor(getAt(base, path)).map((bad) => ({ body: jsonBytes(setAt(base, path, bad)), what: `${path.join('.')} = ${JSON.stringify(bad)?.slice(0, 40)}` })));
    const body = fc.oneof({ weight: 4, arbitrary: oneValue }, { weight: 1, arbitrary: notAnObjectBody.map((b) => ({ body: b, what: `body ${JSON.stringify(b.subarray(0, 30).toString())}` })) });
    return fc.record({ body, headers: headersArb(options.token) }).map(({ body: b, headers }) => ({
      kind: 'invalid' as const,
      service: route.service,
      method: route.method.toUpperCase(),
      path: fillPath(route.template, options.pathParams(route, options.probeAccountId)),
      headers,
      body: b.body,
      what: `${route.method.toUpperCase()} ${route.template}: ${b.what}`,
    }));
  });
}

/** Anything, for scratch accounts: any JSON anywhere, unknown keys, odd path segments, queries and methods. */
export function arbitraryCases(options: CaseOptions): fc.Arbitrary<FuzzCase> {
  const json = fc.jsonValue({ maxDepth: 4 });
  return fc.record({ route: fc.constantFrom(...options.routes), account: options.scratchAccountId }).chain(({ route, account }) => {
    const base = options.baseBody(route, account);
    const paths = valuePaths(base);
    const body = fc.oneof(
      paths.length === 0 ? json.map((v) => jsonBytes(v)) : fc.tuple(fc.constantFrom(...paths), json).map(([p, v]) => jsonBytes(setAt(base, p, v))),
      fc.tuple(fc.string({ maxLength: 20 }), json).map(([k, v]) => jsonBytes({ ...(base as object), [k]: v })),
      json.map((v) => jsonBytes(v)),
      notAnObjectBody,
      fc.constant(jsonBytes(base)),
    );
    const params = options.pathParams(route, account);
    const path = fc.oneof(
      fc.constant(fillPath(route.template, params)),
      fc.tuple(fc.constantFrom(...Object.keys(params).concat(['_'])), oddSegment).map(([name, seg]) => route.template.replace(/\{([^}]+)\}/g, (_m, n: string) => (n === name ? seg : encodeURIComponent(params[n] ?? 'x')))),
    );
    const method = fc.oneof({ weight: 5, arbitrary: fc.constant(route.method.toUpperCase()) }, { weight: 1, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH') });
    return fc.record({ body, path, query: oddQuery, method, headers: headersArb(options.token) }).map((c) => ({
      kind: 'arbitrary' as const,
      service: route.service,
      method: c.method,
      path: `${c.path}${c.query}`,
      headers: c.headers,
      body: c.method === 'GET' ? undefined : c.body,
      what: `${c.method} ${route.template} (${c.path.slice(0, 60)}${c.query.slice(0, 30)})`,
    }));
  });
}

/** Paths under /v1 that no route has, on every service (including those without /v1 routes). */
export function unknownRouteCases(options: CaseOptions): fc.Arbitrary<FuzzCase> {
  return fc
    .record({
      service: fc.constantFrom(...options.services),
      segments: fc.array(oddSegment, { minLength: 1, maxLength: 4 }),
      query: oddQuery,
      method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH'),
      body: fc.option(notAnObjectBody, { nil: undefined }),
      headers: headersArb(options.token),
    })
    .map((c) => ({
      kind: 'arbitrary' as const,
      service: c.service,
      method: c.method,
      path: `/v1/${c.segments.join('/')}${c.query}`,
      headers: c.headers,
      body: c.method === 'GET' ? undefined : c.body,
      what: `${c.method} /v1/${c.segments.join('/').slice(0, 60)} on ${c.service}`,
    }));
}
