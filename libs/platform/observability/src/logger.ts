import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * JSON logs (pino) with secrets redacted wherever they may appear: authorization headers, tokens, passwords.
 * LOG_LEVEL sets the level (default info).
 */
export function createLogger(service: string, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({
    name: service,
    level,
    base: { service, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: [
        'authorization',
        '*.authorization',
        'headers.authorization',
        'req.headers.authorization',
        'token',
        '*.token',
        'password',
        '*.password',
        'databaseUrl',
      ],
      censor: '[redacted]',
    },
  });
}

/** A URL with its password removed, for logs and error messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = 'redacted';
    return parsed.toString();
  } catch {
    return '[unparseable url]';
  }
}
