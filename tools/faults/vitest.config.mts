import { defineProject } from 'vitest/config';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

// The fault suite's pure helpers, in `npm test`; the suite itself (*.faults.spec.ts) runs only through
// vitest.faults.mts (`npm run test:faults`).
export default defineProject({
  root: dirname(fileURLToPath(import.meta.url)),
  resolve: { tsconfigPaths: true },
  test: {
    name: 'tools/faults',
    include: ['src/**/*.spec.ts'],
    exclude: ['src/**/*.faults.spec.ts'],
    environment: 'node',
  },
});
