/**
 * `npm pack` in libs/client makes a package that works on its own: the tarball holds the compiled JavaScript and
 * its type declarations, names no monorepo module, and `require('@access/client')` from a project that has only
 * the tarball's content and its one dependency can admit a request (against a local fake server).
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fakeServer } from './fake-server';

const packageDir = join(__dirname, '..');
const repoRoot = join(packageDir, '..', '..');

describe('npm pack', () => {
  const work = mkdtempSync(join(tmpdir(), 'access-client-pack-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('packs a self-contained package that a plain Node project can require and use', async () => {
    // npm runs the package's prepack (its own tsc build) first.
    const out = execFileSync('npm', ['pack', '--json', '--pack-destination', work], {
      cwd: packageDir,
      encoding: 'utf8',
      env: { ...process.env, PATH: `${join(repoRoot, 'node_modules', '.bin')}:${process.env.PATH}` },
    });
    const [report] = JSON.parse(out.slice(out.indexOf('['))) as [{ name: string; filename: string; files: { path: string }[] }];
    expect(report.name).toBe('@access/client');
    const files = report.files.map((f) => f.path).sort();
    expect(files).toEqual(expect.arrayContaining(['README.md', 'package.json', 'dist/index.js', 'dist/index.d.ts', 'dist/client.js', 'dist/client.d.ts']));
    expect(files.filter((f) => f.includes('spec') || f.startsWith('src/') || f.startsWith('test/'))).toEqual([]);

    const project = join(work, 'consumer');
    const installed = join(project, 'node_modules', '@access', 'client');
    mkdirSync(installed, { recursive: true });
    execFileSync('tar', ['-xzf', join(work, report.filename), '-C', installed, '--strip-components=1']);
    symlinkSync(join(repoRoot, 'node_modules', 'structured-headers'), join(project, 'node_modules', 'structured-headers'), 'dir');

    const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    expect(Object.keys(manifest.dependencies)).toEqual(['structured-headers']);
    for (const file of readdirSync(join(installed, 'dist')).filter((f) => f.endsWith('.js') || f.endsWith('.d.ts'))) {
      const text = readFileSync(join(installed, 'dist', file), 'utf8');
      expect(text, file).not.toMatch(/@access\/(?!client)|@nestjs|kafkajs|from 'zod'/);
    }

    const server = await fakeServer();
    try {
      server.script({ status: 200, body: { decision: 'admitted', admissionId: 'a', requestId: 'r', estimatedCredits: 1, fundedBy: [], reservationExpiresAt: null, priceBookVersion: 'v', limits: [] }, headers: { ratelimit: '"requests";r=5;t=1' } });
      writeFileSync(
        join(project, 'main.js'),
        `const { AccessClient } = require('@access/client');
         new AccessClient({ admissionUrl: process.argv[2], token: 'acc_x' })
           .admit({ accountId: 'a', userId: 'u', model: 'm', endpoint: 'e', estimate: { meters: {} } })
           .then((r) => console.log(JSON.stringify(r)));`,
      );
      const printed = await new Promise<string>((resolve, reject) => {
        execFile(process.execPath, ['main.js', server.url], { cwd: project, encoding: 'utf8' }, (error, stdout) => (error ? reject(error) : resolve(stdout)));
      });
      expect(JSON.parse(printed)).toMatchObject({ decision: 'admitted', rateLimit: { limits: [{ name: 'requests', remaining: 5, resetSeconds: 1 }] } });
    } finally {
      await server.close();
    }
  }, 120_000);
});
