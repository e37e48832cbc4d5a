/**
 * The build behind `npm run build` (build.ts): bundles each process of targets.ts with esbuild into one CommonJS
 * file under dist/, with its source map next to it.
 *
 * Everything installed is inlined: the workspace's libraries (the `@access/*` paths of tsconfig.base.json) and the
 * packages from node_modules. Loading one file instead of about 1,800 modules cuts a service's start-up by a fifth to
 * a third: admission reached /health/live in 1.1–1.8 s with node_modules external (four starts) and 0.8–1.6 s inlined
 * (eight), alternating, at a load average of 2–3; inlined was the faster of every pair. The price is build time:
 * every bundle parses its packages again (bench/startup times `npm run build`). Optional packages that are not
 * installed (Nest's microservices and websockets, class-validator, database drivers other than pg) stay `require`
 * calls that their libraries guard, as they are when the same code runs from node_modules. The images still install
 * the production dependencies, so a package a library loads by a computed name is there too.
 *
 * The build fails when the workspace's own code imports a package that is not in package.json's `dependencies`
 * (a production install, `npm ci --omit=dev`, would lack it wherever it is loaded from node_modules).
 *
 * Source maps: written (`main.js.map`, mappings without the sources' text); `node --enable-source-maps` (or
 * NODE_OPTIONS) maps stack traces back to the TypeScript. Off by default because Node decodes the whole map at
 * start: about half a second here. Without it, stack traces still name the functions (names are kept, nothing is
 * minified) and the bundle marks each inlined file with a `// path` comment.
 *
 * Decorators: esbuild compiles TypeScript's legacy decorators but emits no `design:paramtypes` metadata, exactly as
 * tsx does when it runs the services from source. Nest can therefore inject only by explicit `@Inject(token)`, which
 * every constructor of a provider or controller here uses; a built service that starts and answers proves it.
 */
import { builtinModules } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { build, type Metafile, type Plugin } from 'esbuild';
import type { BuildTarget } from './targets';

const root = join(__dirname, '..', '..', '..');

/** The package a bare import names: `pino/file` → `pino`, `@nestjs/core/x` → `@nestjs/core`; undefined for Node's own, relative paths and `#` subpath imports. */
export function packageOf(specifier: string): string | undefined {
  // `#name` is a package's own subpath import (package.json "imports", e.g. OpenTelemetry's `#platform`), resolved by esbuild.
  if (specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('#') || specifier.startsWith('node:')) return undefined;
  if (builtinModules.includes(specifier.split('/')[0]!)) return undefined;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** Packages the workspace's own files (not node_modules) import that are not `dependencies`, by importing file. */
export function undeclaredImports(metafile: Metafile, dependencies: ReadonlySet<string>): Map<string, string[]> {
  const problems = new Map<string, string[]>();
  for (const [file, input] of Object.entries(metafile.inputs)) {
    if (file.includes('node_modules/')) continue;
    const missing = new Set<string>();
    for (const imported of input.imports) {
      if (imported.path === '<runtime>') continue;
      const name = packageOf(imported.original ?? imported.path);
      if (name !== undefined && !name.startsWith('@access/') && !dependencies.has(name)) missing.add(name);
    }
    if (missing.size > 0) problems.set(file, [...missing].sort());
  }
  return problems;
}

/** Leaves a bare import of a package that is not installed as a run-time `require` (optional peers). */
function notInstalledExternal(cwd: string): Plugin {
  return {
    name: 'not-installed-external',
    setup(b) {
      b.onResolve({ filter: /^[^./]/ }, (args) => {
        const name = packageOf(args.path);
        if (name === undefined || name.startsWith('@access/')) return undefined;
        return existsSync(join(cwd, 'node_modules', name, 'package.json')) ? undefined : { path: args.path, external: true };
      });
    },
  };
}

export async function buildAll(selected: readonly BuildTarget[], cwd = root): Promise<Metafile> {
  const result = await build({
    absWorkingDir: cwd,
    entryPoints: Object.fromEntries(selected.map((t) => [t.outfile.replace(/\.js$/, ''), t.entry])),
    outdir: '.',
    bundle: true,
    platform: 'node',
    target: 'node24',
    format: 'cjs',
    tsconfig: 'tsconfig.base.json',
    plugins: [notInstalledExternal(cwd)],
    // ES module builds first where a package ships both, as bundlers do.
    mainFields: ['module', 'main'],
    sourcemap: true,
    sourcesContent: false,
    // Nest names modules and providers after their classes in messages; keep the names the sources give them.
    keepNames: true,
    metafile: true,
    logLevel: 'warning',
  });
  const pkg = JSON.parse(readFileSync(join(cwd, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
  const problems = undeclaredImports(result.metafile, new Set(Object.keys(pkg.dependencies ?? {})));
  if (problems.size > 0) {
    const lines = [...problems].map(([file, names]) => `  ${file}: ${names.join(', ')}`);
    throw new Error(`these files import packages that are not in package.json "dependencies" (a production install lacks them):\n${lines.join('\n')}`);
  }
  return result.metafile;
}
