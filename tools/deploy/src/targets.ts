/**
 * What `npm run build` produces: one JavaScript bundle per process, at a path that does not depend on where its
 * source lives. The Dockerfiles, the start scripts, bin/access and docs/operations.md name these paths.
 */
export interface BuildTarget {
  /** The name `npm run build -- NAME` selects. */
  name: string;
  /** The TypeScript entry point, from the repository root. */
  entry: string;
  /** The bundle, from the repository root (its source map is next to it, `.map` appended). */
  outfile: string;
}

export const buildTargets: readonly BuildTarget[] = [
  { name: 'admission', entry: 'apps/admission/src/main.ts', outfile: 'dist/apps/admission/main.js' },
  { name: 'credit-ledger', entry: 'apps/credit-ledger/src/main.ts', outfile: 'dist/apps/credit-ledger/main.js' },
  { name: 'usage-ingest', entry: 'apps/usage-ingest/src/main.ts', outfile: 'dist/apps/usage-ingest/main.js' },
  { name: 'load-feedback', entry: 'apps/load-feedback/src/main.ts', outfile: 'dist/apps/load-feedback/main.js' },
  { name: 'fleet-simulator', entry: 'apps/fleet-simulator/src/main.ts', outfile: 'dist/apps/fleet-simulator/main.js' },
  { name: 'cli', entry: 'apps/cli/src/main.ts', outfile: 'dist/apps/cli/main.js' },
  // `provision` creates the topics and applies the migrations against servers someone else runs (docker-compose.yml).
  { name: 'infra-stack', entry: 'infra/stack/cli.ts', outfile: 'dist/infra/stack/cli.js' },
];

/** The four services: each serves /health/live on its port variable (shared/CONTRACTS.md). */
export const services = [
  { name: 'admission', portVariable: 'ADMISSION_PORT', port: 7100 },
  { name: 'credit-ledger', portVariable: 'LEDGER_PORT', port: 7200 },
  { name: 'usage-ingest', portVariable: 'USAGE_INGEST_PORT', port: 7300 },
  { name: 'load-feedback', portVariable: 'LOAD_FEEDBACK_PORT', port: 7400 },
] as const;

export type ServiceName = (typeof services)[number]['name'];
