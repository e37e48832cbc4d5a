/**
 * `npm run bench`: runs every benchmark under bench/<name>/main.ts, one after another (they share two cores),
 * streaming their progress. `npm run bench -- ledger admission` runs only those. Each benchmark prints its
 * figures and updates its own section of docs/benchmarks.md. Benchmarks need the local stack (infra:up).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '..');
const wanted = process.argv.slice(2);
const all = readdirSync(__dirname, { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join(__dirname, d.name, 'main.ts')))
  .map((d) => d.name)
  .sort();
const selected = wanted.length ? all.filter((n) => wanted.includes(n)) : all;
if (selected.length === 0) {
  console.error(`no benchmark matches ${wanted.join(', ')}; available: ${all.join(', ')}`);
  process.exit(2);
}

const failures: string[] = [];
selected.forEach((name, i) => {
  console.log(`\n=== [${i + 1}/${selected.length}] bench/${name} ===`);
  const t0 = Date.now();
  const result = spawnSync(process.execPath, [join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(__dirname, name, 'main.ts')], {
    cwd: root,
    stdio: 'inherit',
  });
  const seconds = ((Date.now() - t0) / 1000).toFixed(0);
  if (result.status === 0) console.log(`=== bench/${name} done in ${seconds} s ===`);
  else {
    console.log(`=== bench/${name} FAILED (exit ${result.status ?? result.signal}) after ${seconds} s ===`);
    failures.push(name);
  }
});
if (failures.length) {
  console.error(`\nfailed: ${failures.join(', ')}`);
  process.exit(1);
}
