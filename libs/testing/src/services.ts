/**
 * A service under test as a real child process: started with tsx as an in-process loader (the tsx CLI would run
 * the service in a grandchild that a kill leaves running, holding its port), its output kept for failure messages.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';

export const repoRoot = join(__dirname, '..', '..', '..');

/** Output kept per service for failure messages (the tail). */
const outputCharsMax = 50_000;

export interface Service {
  process: ChildProcess;
  port: number;
  output(): string;
  exited: Promise<number | null>;
  /** Sends `signal` (default SIGKILL) unless already exited; resolves with the exit code. */
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Starts `entry` (a path from the repo root: TypeScript source, or a bundle from `npm run build`) with LOG_LEVEL=warn and `env` on top of this process's environment.
 * With `logFile`, everything it prints is also appended there (whole, not just the tail); `args` follow the entry.
 */
export function startService(entry: string, env: Record<string, string>, port: number, logFile?: string, args: readonly string[] = []): Service {
  let output = '';
  if (logFile !== undefined) mkdirSync(dirname(logFile), { recursive: true });
  const keep = (d: Buffer) => {
    output = (output + d.toString()).slice(-outputCharsMax);
    if (logFile !== undefined) appendFileSync(logFile, d);
  };
  // A built bundle (`npm run build`, dist/…/*.js) runs on plain Node; TypeScript sources through tsx's loader.
  const loader = entry.endsWith('.js') ? [] : ['--import', 'tsx'];
  const child = spawn(process.execPath, [...loader, join(repoRoot, entry), ...args], {
    cwd: repoRoot,
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
  });
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    process: child,
    port,
    output: () => output,
    exited,
    kill: async (signal = 'SIGKILL') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Waits until the service's /health/ready answers 200; fails at once, with its output, if it exits first. */
export async function waitReady(service: Service, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (service.process.exitCode !== null) throw new Error(`exited with ${service.process.exitCode}:\n${service.output()}`);
    try {
      const r = await fetch(`http://127.0.0.1:${service.port}/health/ready`);
      if (r.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`port ${service.port} not ready in ${timeoutMs} ms:\n${service.output()}`);
}

/** A port the OS just handed out (and took back): unlike a random number, not one already in use. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
