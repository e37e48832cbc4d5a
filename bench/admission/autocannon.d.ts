// The slice of autocannon's API this benchmark uses (the package ships no types).
declare module 'autocannon' {
  export interface RawRequest {
    /** The port of the URL this request's connection goes to (several URLs: connection i goes to URL i mod n). */
    port?: string | number;
    method?: string;
    path?: string;
    headers?: Record<string, string>;
    body?: string;
  }
  /** Per connection; reset to a copy of initialContext each time the connection starts its requests list again. */
  export type Context = Record<string, unknown>;
  export interface Options {
    url: string | string[];
    connections?: number;
    duration?: number;
    pipelining?: number;
    overallRate?: number;
    method?: string;
    headers?: Record<string, string>;
    body?: string;
    requests?: {
      method?: string;
      path?: string;
      headers?: Record<string, string>;
      body?: string;
      setupRequest?: (request: RawRequest, context: Context) => RawRequest;
      onResponse?: (status: number, body: string, context: Context, headers: Record<string, string | string[]>) => void;
    }[];
  }
  export interface Histogram {
    average: number;
    mean: number;
    p50: number;
    p90: number;
    p99: number;
    max: number;
  }
  export interface Result {
    requests: Histogram & { total: number };
    latency: Histogram;
    throughput: Histogram;
    non2xx: number;
    errors: number;
    timeouts: number;
    '2xx': number;
    duration: number;
  }
  function autocannon(options: Options): Promise<Result>;
  export default autocannon;
}
