/** One problem found in a configuration file: where (`plans.free.requestsPerMinute`) and what. */
export interface ConfigIssue {
  readonly path: string;
  readonly message: string;
}

/** Parsing a configuration file either yields the typed value or every problem found, never a throw. */
export type ParseResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly errors: readonly ConfigIssue[] };
