import { defineConfig } from 'vitest/config';

// One vitest project per library and app (each folder's vitest.config.mts), run from the root.
// Tiers are named by file suffix: *.spec.ts (pure), *.int.spec.ts (real servers), *.e2e.spec.ts (services running).
export default defineConfig({
  test: {
    projects: ['libs/**/vitest.config.mts', 'apps/*/vitest.config.mts', 'tools/*/vitest.config.mts'],
  },
});
