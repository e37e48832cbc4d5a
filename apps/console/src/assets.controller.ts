/**
 * The page and everything it loads, from this process: no asset comes from the internet. uPlot (charts) is
 * served from node_modules as npm installed it. The page itself needs no token; every /v1 call it makes does.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Controller, Get, Param, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { repoRoot } from '@access/platform-config';
import { problem, sendProblem } from '@access/platform-http';

const publicDir = join(__dirname, '..', 'public');
const uplotDir = join(repoRoot, 'node_modules', 'uplot', 'dist');

/** The only files served: name → where it is and its content type. */
const ASSETS: Readonly<Record<string, { path: string; type: string }>> = {
  'app.js': { path: join(publicDir, 'app.js'), type: 'text/javascript; charset=utf-8' },
  'console.css': { path: join(publicDir, 'console.css'), type: 'text/css; charset=utf-8' },
  'uPlot.iife.min.js': { path: join(uplotDir, 'uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' },
  'uPlot.min.css': { path: join(uplotDir, 'uPlot.min.css'), type: 'text/css; charset=utf-8' },
};

/** Read once at start: a missing file stops the console at boot rather than at the first page view. */
export function loadAssets(): Map<string, { body: Buffer; type: string }> {
  const out = new Map<string, { body: Buffer; type: string }>();
  for (const [name, a] of Object.entries(ASSETS)) out.set(name, { body: readFileSync(a.path), type: a.type });
  out.set('index.html', { body: readFileSync(join(publicDir, 'index.html')), type: 'text/html; charset=utf-8' });
  return out;
}

const SECURITY_HEADERS = {
  // Everything the page uses comes from here; nothing is fetched from anywhere else.
  'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

export function assetsController(assets: Map<string, { body: Buffer; type: string }>) {
  @Controller()
  class AssetsController {
    @Get('/')
    index(@Res() reply: FastifyReply) {
      const page = assets.get('index.html')!;
      void reply.headers(SECURITY_HEADERS).header('content-type', page.type).header('cache-control', 'no-cache').send(page.body);
    }

    @Get('/assets/:name')
    asset(@Param('name') name: string, @Res() reply: FastifyReply) {
      const asset = name === 'index.html' ? undefined : assets.get(name);
      if (asset === undefined) return sendProblem(reply, problem(404, 'HTTP.NOT_FOUND', `No asset ${name}.`));
      void reply.headers(SECURITY_HEADERS).header('content-type', asset.type).header('cache-control', 'no-cache').send(asset.body);
    }
  }
  return AssetsController;
}
