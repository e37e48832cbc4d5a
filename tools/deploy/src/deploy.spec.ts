/**
 * The Dockerfiles and docker-compose.yml, read as data (there is no Docker engine here): each image is multi-stage,
 * runs as a non-root user, checks /health/ready, binds 0.0.0.0, and starts the bundle its build stage builds; the
 * compose file wires every service to the servers under their compose names, with health-gated depends_on, and runs
 * two admission replicas. images.e2e.spec.ts runs the same files' commands. Also the build's dependency check.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Metafile } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { repoRoot } from '@access/platform-config';
import { packageOf, undeclaredImports } from './bundle';
import { copyOf, envOf, healthcheckOf, parseDockerfile, parseInstructions, type Stage } from './dockerfile';
import { buildTargets, services } from './targets';

/** Every Dockerfile: the four services' and the provisioning job's, with the build targets each image holds. */
const images = [
  ...services.map((s) => ({ dockerfile: `apps/${s.name}/Dockerfile`, service: s, targets: [s.name] })),
  { dockerfile: 'infra/stack/Dockerfile', service: undefined, targets: ['infra-stack', 'cli'] },
];

const read = (path: string) => readFileSync(join(repoRoot, path), 'utf8');
const stage = (stages: Stage[], name: string) => {
  const found = stages.find((s) => s.name === name);
  if (found === undefined) throw new Error(`no stage ${name}`);
  return found;
};
const all = (s: Stage, keyword: string) => s.instructions.filter((i) => i.keyword === keyword);

describe('the Dockerfile reader', () => {
  it('joins continuations, drops comments, and reads stages, ENV, COPY and HEALTHCHECK', () => {
    const stages = parseDockerfile(
      [
        '# a comment',
        'FROM node:24-slim AS build',
        'RUN npm ci \\',
        '  # dropped, as Docker does',
        '  --omit=dev',
        'FROM node:24-slim',
        'ENV A=1 B="two words" C=',
        'ENV OLD style value',
        'COPY --from=build --chown=node /app/dist ./dist',
        'HEALTHCHECK --interval=5s --retries=3 \\',
        '  CMD ["node", "-e", "1"]',
        'CMD node main.js',
      ].join('\n'),
    );
    expect(stages.map((s) => [s.name, s.image])).toEqual([['build', 'node:24-slim'], [undefined, 'node:24-slim']]);
    expect(stages[0]!.instructions).toEqual([{ keyword: 'RUN', args: 'npm ci --omit=dev', exec: undefined, line: 3 }]);
    const [env, old, copy, health, cmd] = stages[1]!.instructions;
    expect(envOf(env!)).toEqual({ A: '1', B: 'two words', C: '' });
    expect(envOf(old!)).toEqual({ OLD: 'style value' });
    expect(copyOf(copy!)).toEqual({ from: 'build', sources: ['/app/dist'], destination: './dist' });
    expect(healthcheckOf(health!)).toEqual({ options: { interval: '5s', retries: '3' }, command: ['node', '-e', '1'] });
    expect(cmd).toMatchObject({ keyword: 'CMD', args: 'node main.js', exec: undefined });
  });

  it('refuses what it does not understand rather than misread it', () => {
    expect(() => parseInstructions('RUN <<EOF\necho\nEOF')).toThrow(/heredoc/);
    expect(() => parseDockerfile('RUN echo')).toThrow(/before the first FROM/);
  });
});

describe.each(images)('$dockerfile', ({ dockerfile, targets }) => {
  const stages = parseDockerfile(read(dockerfile));
  const build = stage(stages, 'build');
  const runtime = stages.at(-1)!;
  const bundles = targets.map((name) => buildTargets.find((t) => t.name === name)!);

  it('has a build stage, a production-dependencies stage and a runtime stage, all on Node 24 slim', () => {
    expect(stages.map((s) => s.name)).toEqual(['build', 'deps', 'runtime']);
    for (const s of stages) expect(s.image).toMatch(/^node:24-[a-z]+-slim$/);
    expect(all(stage(stages, 'deps'), 'RUN').map((r) => r.args).join(' ')).toMatch(/npm ci --omit=dev/);
  });

  it('builds exactly the bundles it runs', () => {
    const runs = all(build, 'RUN').map((r) => r.args);
    expect(runs).toContain(`npm run build -- ${targets.join(' ')}`);
    const copied = all(runtime, 'COPY').map(copyOf).filter((c) => c.from === 'build');
    expect(copied.map((c) => c.sources[0])).toEqual(bundles.map((t) => `/app/${dirname(t.outfile)}`));
    for (const c of copied) expect(join('/app', c.destination)).toBe(join('/app', c.sources[0]!.replace(/^\/app\//, '')));
    expect(all(runtime, 'COPY').map(copyOf)).toContainEqual({ from: 'deps', sources: ['/app/node_modules'], destination: './node_modules' });
    // Never the whole context: sources, tests and dev tooling stay out of the runtime image.
    expect(all(runtime, 'COPY').map(copyOf).filter((c) => c.from === undefined).flatMap((c) => c.sources)).not.toContain('.');
    const cmd = all(runtime, 'CMD').at(-1)!.exec!;
    expect(cmd.slice(0, 2)).toEqual(['node', bundles[0]!.outfile]);
  });

  it('runs as an unprivileged user', () => {
    const user = all(runtime, 'USER').at(-1)?.args;
    expect(user).toBeDefined();
    expect(['root', '0', '0:0']).not.toContain(user);
  });
});

describe.each(images.filter((i) => i.service !== undefined))('$dockerfile', ({ dockerfile, service }) => {
  const runtime = parseDockerfile(read(dockerfile)).at(-1)!;

  it('binds 0.0.0.0 on its port and checks /health/ready there', () => {
    const env = Object.assign({}, ...all(runtime, 'ENV').map(envOf)) as Record<string, string>;
    expect(env.HTTP_HOST).toBe('0.0.0.0');
    expect(env[service!.portVariable]).toBe(String(service!.port));
    expect(all(runtime, 'EXPOSE').map((e) => e.args)).toEqual([String(service!.port)]);
    const health = all(runtime, 'HEALTHCHECK');
    expect(health).toHaveLength(1);
    const { command } = healthcheckOf(health[0]!);
    expect(command.slice(0, 2)).toEqual(['node', '-e']);
    expect(command[2]).toContain(`process.env.${service!.portVariable}`);
    expect(command[2]).toContain('/health/ready');
  });
});

describe('.dockerignore', () => {
  it('keeps installed, built and local state out of the build context', () => {
    const ignored = read('.dockerignore').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    for (const entry of ['.git', 'node_modules', 'dist', '.local']) expect(ignored).toContain(entry);
  });
});

interface ComposeService {
  build?: { context: string; dockerfile: string };
  image?: string;
  ports?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
}

describe('docker-compose.yml', () => {
  const compose = parse(read('docker-compose.yml')) as { services: Record<string, ComposeService> };
  const all = compose.services;
  const built = Object.entries(all).filter(([, s]) => s.build !== undefined);
  const servers = ['kafka', 'postgres', 'clickhouse'];
  const appServices = built.filter(([, s]) => s.build!.dockerfile.startsWith('apps/'));

  it('runs the servers, the provisioning job, the four services and a second admission replica', () => {
    expect(Object.keys(all).sort()).toEqual(['admission', 'admission-2', 'clickhouse', 'credit-ledger', 'kafka', 'load-feedback', 'postgres', 'provision', 'usage-ingest']);
    for (const image of images) expect(built.some(([, s]) => s.build!.dockerfile === image.dockerfile)).toBe(true);
  });

  it.each(built)('%s builds from the repository root with a Dockerfile that exists', (_name, s) => {
    expect(s.build!.context).toBe('.');
    expect(existsSync(join(repoRoot, s.build!.dockerfile))).toBe(true);
  });

  it.each(appServices)('%s: its port variable is the port it publishes, on the host loopback only', (_name, s) => {
    const image = images.find((i) => i.dockerfile === s.build!.dockerfile)!;
    const port = s.environment![image.service!.portVariable];
    expect(port).toMatch(/^\d+$/);
    expect(s.ports).toEqual([`127.0.0.1:${port}:${port}`]);
  });

  it('publishes no host port twice', () => {
    const hostPorts = Object.values(all).flatMap((s) => s.ports ?? []).map((p) => p.split(':').slice(0, 2).join(':'));
    expect(new Set(hostPorts).size).toBe(hostPorts.length);
  });

  it.each(built)('%s reaches the servers by their compose names, on a listener Kafka advertises to the network', (_name, s) => {
    const advertised = all.kafka!.environment!.KAFKA_ADVERTISED_LISTENERS!.split(',').map((l) => l.replace(/^\w+:\/\//, ''));
    const env = s.environment!;
    expect(advertised).toContain(env.KAFKA_BROKERS);
    expect(env.KAFKA_BROKERS!.split(':')[0]).toBe('kafka');
    const listenerPort = env.KAFKA_BROKERS!.split(':')[1];
    expect(all.kafka!.environment!.KAFKA_LISTENERS).toContain(`://:${listenerPort}`);
    expect(new URL(env.DATABASE_URL!).hostname).toBe('postgres');
    expect(new URL(env.CLICKHOUSE_URL!).hostname).toBe('clickhouse');
  });

  it.each(built)('%s starts after the servers are healthy (and the services after provisioning)', (name, s) => {
    for (const server of servers) expect(s.depends_on?.[server]).toEqual({ condition: 'service_healthy' });
    if (name !== 'provision') expect(s.depends_on?.provision).toEqual({ condition: 'service_completed_successfully' });
  });

  it('every service another waits for as healthy has a health check (in compose or in its image)', () => {
    for (const s of Object.values(all)) {
      for (const [dependency, { condition }] of Object.entries(s.depends_on ?? {})) {
        if (condition !== 'service_healthy') continue;
        const target = all[dependency]!;
        const fromImage = target.build !== undefined && parseDockerfile(read(target.build.dockerfile)).at(-1)!.instructions.some((i) => i.keyword === 'HEALTHCHECK');
        expect(target.healthcheck !== undefined || fromImage, dependency).toBe(true);
      }
    }
  });

  it('runs two admission replicas, each advertising its own compose address and port', () => {
    const replicas = built.filter(([, s]) => s.build!.dockerfile === 'apps/admission/Dockerfile');
    expect(replicas.map(([name]) => name)).toEqual(['admission', 'admission-2']);
    for (const [name, s] of replicas) expect(s.environment!.ADMISSION_ADVERTISED_URL).toBe(`http://${name}:${s.environment!.ADMISSION_PORT}`);
    expect(new Set(replicas.map(([, s]) => s.environment!.ADMISSION_PORT)).size).toBe(2);
  });
});

describe('the build', () => {
  it.each([
    ['zod', 'zod'],
    ['pino/file', 'pino'],
    ['@nestjs/core/injector', '@nestjs/core'],
    ['node:fs', undefined],
    ['fs/promises', undefined],
    ['./local', undefined],
    ['#platform', undefined],
  ])('packageOf(%s) = %s', (specifier, name) => {
    expect(packageOf(specifier)).toBe(name);
  });

  it('refuses a workspace file importing a package a production install lacks, whatever node_modules imports', () => {
    const input = (imports: { path: string; original?: string }[]) => ({ bytes: 1, imports: imports.map((i) => ({ ...i, kind: 'import-statement' as const })) });
    const metafile = {
      inputs: {
        'libs/x/src/a.ts': input([{ path: 'node_modules/vitest/index.js', original: 'vitest' }, { path: 'node_modules/zod/index.js', original: 'zod' }, { path: '<runtime>' }]),
        'libs/x/src/b.ts': input([{ path: 'libs/x/src/a.ts', original: '@access/x' }, { path: 'node:fs', original: 'node:fs' }]),
        'node_modules/zod/index.js': input([{ path: 'node_modules/left-pad/index.js', original: 'left-pad' }]),
      },
      outputs: {},
    } as Metafile;
    expect([...undeclaredImports(metafile, new Set(['zod']))]).toEqual([['libs/x/src/a.ts', ['vitest']]]);
  });

  it('names every process that has a main.ts', () => {
    for (const t of buildTargets) expect(existsSync(join(repoRoot, t.entry)), t.entry).toBe(true);
    for (const s of services) expect(buildTargets.map((t) => t.name)).toContain(s.name);
  });
});
