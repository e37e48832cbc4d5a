/**
 * The module-boundary rules of eslint.config.mjs, checked with probe imports: ESLint's Node API lints a line of
 * code as if it stood in a file of a given project (the file need not exist), and the Nx rule must refuse the
 * imports that cross a scope or go up a layer, and accept those that do not.
 */
import { execFileSync } from 'node:child_process';
import { ESLint } from 'eslint';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '@access/platform-config';

const rule = '@nx/enforce-module-boundaries';
let eslint: ESLint;

/** The messages of `rule` for `code` linted as the file `path` (relative to the repository). */
async function boundaryErrors(path: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(`${code}\nexport const probe = x;\n`, { filePath: join(repoRoot, path) });
  return (result?.messages ?? []).filter((m) => m.ruleId === rule).map((m) => m.message);
}

beforeAll(() => {
  // The Nx rule reads the cached project graph and skips itself without one (a fresh clone has none): build it first,
  // as `npm run lint` does with `nx show projects`.
  execFileSync(join(repoRoot, 'node_modules', '.bin', 'nx'), ['show', 'projects'], { cwd: repoRoot, stdio: 'ignore' });
  eslint = new ESLint({ cwd: repoRoot });
}, 120_000);

describe('module boundaries', () => {
  it.each([
    ['a domain library importing another service', 'libs/load-feedback/domain/src/probe.ts', "import { x } from '@access/admission-domain';"],
    ['an application library importing another service', 'libs/credit-ledger/application/src/probe.ts', "import { x } from '@access/admission-application';"],
    ['an app importing another service', 'apps/usage-ingest/src/probe.ts', "import { x } from '@access/credit-ledger-adapters';"],
    ['a shared library importing a service', 'libs/testing/src/probe.ts', "import { x } from '@access/credit-ledger-domain';"],
  ])('refuses %s (scope)', async (_what, path, code) => {
    const errors = await boundaryErrors(path, code);
    expect(errors.length).toBe(1);
    expect(errors[0]).toMatch(/scope:/);
  });

  it.each([
    ['a domain library importing its adapters', 'libs/credit-ledger/domain/src/probe.ts', "import { x } from '@access/credit-ledger-adapters';"],
    ['a domain library importing kafkajs', 'libs/usage/domain/src/probe.ts', "import { x } from 'kafkajs';"],
    ['an application library importing its adapters', 'libs/load-feedback/application/src/probe.ts', "import { x } from '@access/load-feedback-adapters';"],
  ])('refuses %s (type)', async (_what, path, code) => {
    expect((await boundaryErrors(path, code)).length).toBe(1);
  });

  it.each([
    ['an application library importing its domain and a platform library', 'libs/credit-ledger/application/src/probe.ts', "import { x } from '@access/credit-ledger-domain';\nimport { y } from '@access/platform-config';"],
    ['an app importing its own scope', 'apps/load-feedback/src/probe.ts', "import { x } from '@access/load-feedback-application';"],
    ['the simulation importing admission and load-feedback domains', 'libs/load-feedback/simulation/src/probe.ts', "import { x } from '@access/admission-domain';\nimport { y } from '@access/load-feedback-domain';"],
  ])('accepts %s', async (_what, path, code) => {
    expect(await boundaryErrors(path, code)).toEqual([]);
  });
});
