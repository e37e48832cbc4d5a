/**
 * `npm run build [-- NAME…]`: the bundles of targets.ts (all, or the named ones) under dist/; how and why in
 * bundle.ts. Prints each bundle's size and the time taken; exits 1 when the build fails.
 */
import { buildAll } from './bundle';
import { buildTargets } from './targets';

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

main().catch((error: unknown) => {
  console.error(`build: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
