import { defineConfig } from 'vitest/config';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

// `npm run test:faults` only: the fault suite stops and starts the stack's Kafka and ClickHouse, so it is not a
// project of the root vitest config (`npm test` never runs it) and its one file runs alone.
export default defineConfig({
  root: dirname(fileURLToPath(import.meta.url)),
  resolve: { tsconfigPaths: true },
  test: {
    name: 'faults',
    include: ['src/**/*.faults.spec.ts'],
    environment: 'node',
    fileParallelism: false,
    testTimeout: 300_000,
    hookTimeout: 300_000,
  },
});
