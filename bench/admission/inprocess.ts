/**
 * bench/admission (a) on its own, for profiling: `npx tsx bench/admission/inprocess.ts`, or with
 * `node --cpu-prof --import tsx bench/admission/inprocess.ts`. Env: DECISIONS, ACCOUNTS, STEP_MS.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseCatalog } from '@access/catalog';
import { Workload } from './workload';

const root = process.env.REPO_ROOT ?? join(__dirname, '..', '..');
const parsed = parseCatalog(readFileSync(join(root, 'config', 'plans.yaml'), 'utf8'), readFileSync(join(root, 'config', 'price-book.yaml'), 'utf8'));
if (!parsed.ok) throw new Error('catalog');
const decisions = Number(process.env.DECISIONS ?? 3_000_000);
const workload = new Workload(parsed.value, { accounts: Number(process.env.ACCOUNTS ?? 10_000), usersPerAccount: 2, stepMs: Number(process.env.STEP_MS ?? 0.2), zipfS: Number(process.env.ZIPF_S ?? 0), seed: 7 });
workload.run(500_000); // warm-up: JIT and a steady state of open admissions
for (let i = 0; i < Number(process.env.RUNS ?? 3); i++) {
  const r = workload.run(decisions);
  console.log(JSON.stringify({ ...r, decisionsPerSecond: Math.round(r.decisionsPerSecond), loopDecisionsPerSecond: Math.round(r.loopDecisionsPerSecond), decisionsPerCpuSecond: Math.round(r.decisionsPerCpuSecond), loopDecisionsPerCpuSecond: Math.round(r.loopDecisionsPerCpuSecond), admittedShare: +(r.admitted / r.decisions).toFixed(3) }));
}
