/**
 * A local node:http server that answers from a script, for the client's pure tests: every request it receives is
 * recorded (method, path, headers, parsed body), and each answer is the next step of the script (or a fixed one).
 */
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: unknown;
}

/** One scripted answer: a status with JSON body and headers, a socket destroyed without an answer, or no answer at all. */
export type Step =
  | { status: number; body?: unknown; headers?: Record<string, string>; raw?: string }
  | { destroy: true }
  | { hang: true };

export interface FakeServer {
  url: string;
  received: Received[];
  /** Answers the next requests with these steps, then repeats the last one. */
  script(...steps: Step[]): void;
  close(): Promise<void>;
}

export async function fakeServer(): Promise<FakeServer> {
  const received: Received[] = [];
  let steps: Step[] = [{ status: 500, body: { error: 'no script' } }];
  const hanging: ServerResponse[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown = null;
      try {
        body = text === '' ? null : JSON.parse(text);
      } catch {
        body = text;
      }
      received.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body });
      const step = steps.length > 1 ? steps.shift()! : steps[0]!;
      if ('destroy' in step) return void req.socket.destroy();
      if ('hang' in step) return void hanging.push(res);
      const payload = step.raw ?? (step.body === undefined ? '' : JSON.stringify(step.body));
      const type = step.status >= 400 && step.raw === undefined ? 'application/problem+json' : 'application/json';
      res.writeHead(step.status, { 'content-type': type, ...step.headers });
      res.end(payload);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    script: (...next) => {
      steps = next;
    },
    close: () =>
      new Promise((resolve) => {
        for (const res of hanging) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A clock for the retry tests: sleeping advances it at once and is recorded. */
export function fakeClock(startMs = Date.parse('2026-12-04T12:00:00.000Z')) {
  let now = startMs;
  const sleeps: number[] = [];
  return {
    sleeps,
    nowMs: () => now,
    sleep: async (ms: number) => {
      sleeps.push(ms);
      now += ms;
    },
    random: () => 0.5,
  };
}
