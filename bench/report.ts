/**
 * Shared by the benchmarks: machine description, medians, CPU time from /proc, and writing one section of docs/benchmarks.md
 * (between `<!-- bench:NAME:start -->` and `<!-- bench:NAME:end -->`) without touching the others.
 */
import { cpus, totalmem } from 'node:os';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const benchmarksDoc = join(__dirname, '..', 'docs', 'benchmarks.md');

export function machine(): string {
  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
  return `${cpus().length} × ${cpu}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Node ${process.version}`;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export function writeSection(name: string, markdown: string): void {
  const start = `<!-- bench:${name}:start -->`;
  const end = `<!-- bench:${name}:end -->`;
  const block = `${start}\n${markdown.trim()}\n${end}`;
  let doc = existsSync(benchmarksDoc) ? readFileSync(benchmarksDoc, 'utf8') : '# Benchmarks\n';
  const i = doc.indexOf(start);
  const j = doc.indexOf(end);
  doc = i >= 0 && j > i ? doc.slice(0, i) + block + doc.slice(j + end.length) : `${doc.trimEnd()}\n\n${block}\n`;
  writeFileSync(benchmarksDoc, doc);
}

/** Clock ticks per second of /proc's CPU times (USER_HZ: 100 on every mainstream Linux build). */
const USER_HZ = 100;

/** CPU seconds used so far: by the whole machine (all cores, from /proc/stat) and by each pid (/proc/<pid>/stat). */
export function cpuSeconds(pids: Record<string, number | undefined>): Record<string, number> | null {
  if (!existsSync('/proc/stat')) return null;
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal: busy is everything but idle and iowait.
  const busyTicks = fields.slice(0, 8).reduce((sum, v, i) => (i === 3 || i === 4 ? sum : sum + v), 0);
  const out: Record<string, number> = { machine: busyTicks / USER_HZ };
  for (const [name, pid] of Object.entries(pids)) {
    if (pid === undefined) continue;
    // The command name is in parentheses and may hold spaces: the fields after it are fixed.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    out[name] = (Number(rest[11]) + Number(rest[12])) / USER_HZ; // utime, stime
  }
  return out;
}
