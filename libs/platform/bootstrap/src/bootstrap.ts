/**
 * One way to start a service. A main.ts reads as configuration and wiring only:
 *
 *   const boot = await bootService('credit-ledger', ledgerEnvSchema);        // env, logs, metrics, readiness, tokens
 *   const limits = boot.configOrExit('ledger limits', () => limitsFromEnv(boot.env));
 *   const { kafka, producer } = await boot.connectKafka();                   // or exit 1 naming KAFKA_BROKERS
 *   boot.ready('kafka', () => producer.isConnected);
 *   boot.onStop('consumer', () => consumer.stop());                          // undone last-registered first
 *   boot.every('expiry', 60_000, () => expiry.runOnce());                     // never overlapping
 *   await boot.serve(AppModule, { port: boot.env.LEDGER_PORT });             // HTTP; SIGTERM/SIGINT stop it all
 *   await boot.startOrExit('the consumer', () => consumer.start());
 *
 * Processes without HTTP (the fleet simulator) use `bootWorker` and `untilSignal`: the same configuration,
 * Kafka, hooks and jobs, without Postgres, metrics or a server.
 */
import type { z } from 'zod';
import { kafkaBrokers, loadEnvOrExit, type CommonEnv } from '@access/platform-config';
import type { Runtime, ShellOptions, serve } from '@access/platform-http';
import { connectKafkaOrExit, errorMessage, type EventProducer, type Kafka, type KafkaAdmin, type ProducerOptions } from '@access/platform-kafka';
import { createLogger, type Logger } from '@access/platform-observability';
import type { Registry } from 'prom-client';
import { Lifecycle } from './lifecycle';

/** Configuration a reader found wrong, one line per problem (printed at boot, then the process exits 1). */
export class ConfigProblems extends Error {
  override readonly name = 'ConfigProblems';
  constructor(readonly problems: readonly string[]) {
    super(problems.join('\n  '));
  }
}

export interface KafkaConnection {
  readonly kafka: Kafka;
  readonly admin: KafkaAdmin;
  readonly producer: EventProducer;
}

/** What every process gets: validated environment, a logger, Kafka, shutdown hooks and periodic jobs. */
export class WorkerBoot<E extends CommonEnv> {
  protected readonly lifecycle: Lifecycle;

  constructor(
    readonly name: string,
    readonly env: E,
    readonly logger: Logger,
  ) {
    this.lifecycle = new Lifecycle(logger);
  }

  /** True once shutdown began. */
  get stopping(): boolean {
    return this.lifecycle.stopping;
  }

  /**
   * Reads configuration at boot. A throw ends the process (exit 1) with `Invalid <what>:` and the problems on
   * stderr, as a bad environment variable does.
   */
  configOrExit<T>(what: string, read: () => T): T {
    try {
      return read();
    } catch (error) {
      // ConfigProblems is the expected failure: its lines are the message, without the class name in front.
      process.stderr.write(`Invalid ${what}:\n  ${error instanceof ConfigProblems ? error.message : errorMessage(error)}\n`);
      process.exit(1);
    }
  }

  /** Kafka client, admin and producer, connected (or exit 1 naming KAFKA_BROKERS); disconnected at shutdown. */
  async connectKafka(options: { producer?: ProducerOptions } = {}): Promise<KafkaConnection> {
    const connection = await connectKafkaOrExit({ brokers: kafkaBrokers(this.env), clientId: this.name, logger: this.logger, ...options });
    this.onStop('kafka admin', () => connection.admin.disconnect());
    this.onStop('kafka producer', () => connection.producer.disconnect());
    return connection;
  }

  /** Registers what to undo at shutdown; steps run last registered first. */
  onStop(name: string, run: () => Promise<unknown> | unknown): void {
    this.lifecycle.onStop(name, run);
  }

  /** A periodic job, one round at a time; failed rounds are logged and retried by the next; stopped at shutdown. */
  every(name: string, intervalMs: number, job: () => Promise<unknown>, options: { immediately?: boolean } = {}): void {
    this.lifecycle.every(name, intervalMs, job, options);
  }

  /** Awaits `start` and returns what it returns; a failure ends the process (exit 1) with `cannot start <what>`. */
  async startOrExit<T>(what: string, start: () => Promise<T>): Promise<T> {
    try {
      return await start();
    } catch (error) {
      this.logger.fatal({ err: errorMessage(error) }, `cannot start ${what}`);
      process.exit(1);
    }
  }

  /** For a process without HTTP: on SIGTERM or SIGINT, runs the shutdown steps and exits (1 if one failed). */
  untilSignal(): void {
    const shutdown = (signal: string) => {
      this.logger.info({ signal }, `${this.name} shutting down`);
      this.lifecycle.stop().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
  }
}

/** A service: the worker's parts plus the runtime (metrics, readiness, the token store's pool) and HTTP. */
export class ServiceBoot<E extends CommonEnv> extends WorkerBoot<E> {
  constructor(
    private readonly runtime: Runtime<E>,
    private readonly serveHttp: typeof serve,
  ) {
    super(runtime.name, runtime.env, runtime.logger);
    // Registered first, so it runs last: the pool of the token store outlives every other step.
    this.onStop('runtime', () => runtime.close());
  }

  get metrics(): Registry {
    return this.runtime.metrics;
  }

  /** Adds a readiness check (`/health/ready` answers 200 only when every check passes). */
  ready(name: string, check: () => boolean | Promise<boolean>): void {
    this.runtime.readiness.add({ name, check });
  }

  /** The shared HTTP shell (health, readiness, metrics, docs, scope guard) for a module with `openapi`. */
  shell(openapi: object): ShellOptions {
    return this.runtime.shell(openapi);
  }

  /** Boots `module` on Fastify and listens; SIGTERM/SIGINT close the server, then run the shutdown steps. */
  async serve(module: unknown, options: { port: number; bodyLimitBytes?: number }): Promise<void> {
    await this.serveHttp(module, { name: this.name, logger: this.logger, ...options, onShutdown: () => this.lifecycle.stop() });
  }
}

/** Starts a service: the environment validated against `schema` (exit 1 naming the variable), then its runtime. */
export async function bootService<S extends z.ZodType<CommonEnv>>(name: string, schema: S): Promise<ServiceBoot<z.infer<S>>> {
  // Loaded here, not at the top: Nest, Fastify and TypeORM take seconds to load under tsx, and a worker
  // (`bootWorker`) needs none of them.
  const http = await import('@access/platform-http');
  return new ServiceBoot(await http.createRuntime(name, schema), http.serve);
}

/** Starts a process without HTTP or Postgres: environment and logger. */
export function bootWorker<S extends z.ZodType<CommonEnv>>(name: string, schema: S): WorkerBoot<z.infer<S>> {
  const env = loadEnvOrExit(schema);
  return new WorkerBoot(name, env, createLogger(name, env.LOG_LEVEL));
}
