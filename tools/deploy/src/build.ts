/**
 * `npm run build [-- NAME…]`: bundles each process of targets.ts with esbuild into one CommonJS file under dist/,
 * with its source map (run it with `node --enable-source-maps` for stack traces in the TypeScript sources).
 *
 * The workspace's own libraries (the `@access/*` paths of tsconfig.base.json) are inlined; packages stay external
 * and load from node_modules at run time. A production install (`npm ci --omit=dev`, what the Dockerfiles do) holds
 * only package.json's `dependencies`, so the build fails when a bundle imports any other package.
 *
 * Decorators: esbuild compiles TypeScript's legacy decorators but emits no `design:paramtypes` metadata, exactly as
 * tsx does when it runs the services from source. Nest can therefore inject only by explicit `@Inject(token)`, which
 * every constructor of a provider or controller here uses; a built service that starts and answers proves it.
 */
import { builtinModules } from 'node:module';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { build, type Metafile } from 'esbuild';
import { buildTargets, type BuildTarget } from './targets';

const root = join(__dirname, '..', '..', '..');

/** The package a bare import names: `pino/file` → `pino`, `@nestjs/core/x` → `@nestjs/core`; undefined for Node's own. */
export function packageOf(specifier: string): string | undefined {
  if (specifier.startsWith('node:') || builtinModules.includes(specifier.split('/')[0]!)) return undefined;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** Packages each bundle imports that a production install would not have. */
export function undeclaredImports(metafile: Metafile, dependencies: ReadonlySet<string>): Map<string, string[]> {
  const problems = new Map<string, string[]>();
  for (const [outfile, output] of Object.entries(metafile.outputs)) {
    const missing = new Set<string>();
    for (const imported of output.imports) {
      if (!imported.external) continue;
      const name = packageOf(imported.path);
      if (name !== undefined && !dependencies.has(name)) missing.add(name);
    }
    if (missing.size > 0) problems.set(outfile, [...missing].sort());
  }
  return problems;
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
    packages: 'external',
    tsconfig: 'tsconfig.base.json',
    sourcemap: true,
    // Nest names modules and providers after their classes in messages; keep the names the sources give them.
    keepNames: true,
    metafile: true,
    logLevel: 'warning',
  });
  const pkg = JSON.parse(readFileSync(join(cwd, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
  const problems = undeclaredImports(result.metafile, new Set(Object.keys(pkg.dependencies ?? {})));
  if (problems.size > 0) {
    const lines = [...problems].map(([file, names]) => `  ${file}: ${names.join(', ')}`);
    throw new Error(`bundles import packages that are not in package.json "dependencies" (a production install lacks them):\n${lines.join('\n')}`);
  }
  return result.metafile;
}

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const unknown = wanted.filter((name) => !buildTargets.some((t) => t.name === name));
  if (unknown.length > 0) {
    console.error(`unknown build target ${unknown.join(', ')}; known: ${buildTargets.map((t) => t.name).join(', ')}`);
    process.exit(2);
  }
  const selected = wanted.length > 0 ? buildTargets.filter((t) => wanted.includes(t.name)) : buildTargets;
  const t0 = performance.now();
  const metafile = await buildAll(selected);
  const ms = Math.round(performance.now() - t0);
  for (const target of selected) {
    const output = metafile.outputs[target.outfile];
    console.log(`${target.name.padEnd(16)} ${target.outfile}  ${((output?.bytes ?? 0) / 1024).toFixed(0)} KiB`);
  }
  console.log(`built ${selected.length} bundle${selected.length === 1 ? '' : 's'} in ${ms} ms`);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(`build: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}
