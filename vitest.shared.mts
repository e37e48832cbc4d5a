import { defineProject } from 'vitest/config';
import { basename, dirname, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(fileURLToPath(import.meta.url));

/**
 * The vitest project of one library or app. Pure tests run in parallel; tests that talk to real
 * and fail at once with the command that starts it when it does not.
 */
export function accessProject(configUrl: string) {
  const dir = dirname(fileURLToPath(configUrl));
  return defineProject({
    root: dir,
    resolve: { tsconfigPaths: true },
    test: {
      name: relative(root, dir) || basename(dir),
      include: ['src/**/*.spec.ts', 'test/**/*.spec.ts', '*.spec.ts'],
      environment: 'node',
      testTimeout: 60_000,
      hookTimeout: 120_000,
    },
  });
}
