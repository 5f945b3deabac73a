// The console's static file handler (control/console/): exact file map, content types, caching, security headers,
// no traversal, no token, and a clear 503 when the console has not been built. A built tree is made in a temp dir,
// so this runs without Vite; the browser test (tests/e2e/console.test.ts) covers the real build.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import consoleRoutes from '../../control/console/routes.js';
import { cacheControlOf, contentTypeOf, readConsoleFiles } from '../../control/console/files.js';
import { CONSOLE_CSP } from '../../control/console/headers.js';
import { registerErrorHandler } from '../../control/plugins/app/error-handler.js';

let dir: string;

async function appFor(consoleDir: string | undefined): Promise<FastifyInstance> {
  const app = Fastify();
  registerErrorHandler(app);
  // The real auth hook needs the whole app; here a stand-in that refuses every route not marked public, like it does.
  app.addHook('onRequest', async (req, reply) => {
    if (req.routeOptions.config?.auth !== 'public' && !req.is404) return reply.code(401).send({ status: 401 });
  });
  app.get('/v1/secret', async () => ({ secret: true }));
  await app.register(consoleRoutes, { prefix: '/console', ...(consoleDir === undefined ? {} : { dir: consoleDir }) });
  return app;
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'tollgate-console-files-'));
  mkdirSync(join(dir, 'dist', 'assets'), { recursive: true });
  writeFileSync(join(dir, 'dist', 'index.html'), '<!doctype html><title>t</title>');
  writeFileSync(join(dir, 'dist', 'assets', 'index-AbCd1234.js'), 'console.log(1)');
  writeFileSync(join(dir, 'dist', 'assets', 'index-XyZ_9876.css'), 'body{}');
  writeFileSync(join(dir, 'dist', 'assets', 'notes.md'), '# not a console file kind');
  writeFileSync(join(dir, 'dist', '.env'), 'SECRET=1');
  writeFileSync(join(dir, 'outside.txt'), 'outside');
  symlinkSync(join(dir, 'outside.txt'), join(dir, 'dist', 'link.txt'));
});

after(() => rmSync(dir, { recursive: true, force: true }));

describe('console files', () => {
  it('maps only regular files of known kinds; hashed assets are immutable, the rest revalidated', () => {
    const files = readConsoleFiles(join(dir, 'dist'));
    assert.deepEqual([...files.keys()].sort(), ['assets/index-AbCd1234.js', 'assets/index-XyZ_9876.css', 'index.html']);
    assert.equal(contentTypeOf('a/b.JS'), 'text/javascript; charset=utf-8');
    assert.equal(contentTypeOf('x.exe'), undefined);
    assert.equal(cacheControlOf('assets/index-AbCd1234.js'), 'public, max-age=31536000, immutable');
    assert.equal(cacheControlOf('index.html'), 'no-cache');
    assert.equal(cacheControlOf('assets/logo.svg'), 'no-cache');
  });

  it('serves the files with the security headers and no token; anything else is a 404', async () => {
    const app = await appFor(join(dir, 'dist'));
    try {
      const index = await app.inject({ url: '/console/' });
      assert.equal(index.statusCode, 200);
      assert.equal(index.headers['content-type'], 'text/html; charset=utf-8');
      assert.equal(index.headers['cache-control'], 'no-cache');
      assert.equal(index.headers['content-security-policy'], CONSOLE_CSP);
      assert.equal(index.headers['x-content-type-options'], 'nosniff');
      assert.equal(index.headers['referrer-policy'], 'no-referrer');
      assert.equal(index.body, '<!doctype html><title>t</title>');
      const js = await app.inject({ url: '/console/assets/index-AbCd1234.js' });
      assert.equal(js.statusCode, 200);
      assert.equal(js.headers['cache-control'], 'public, max-age=31536000, immutable');
      assert.equal((await app.inject({ method: 'HEAD', url: '/console/assets/index-XyZ_9876.css' })).statusCode, 200);

      const redirect = await app.inject({ url: '/console' });
      assert.equal(redirect.statusCode, 308);
      assert.equal(redirect.headers.location, '/console/');

      for (const url of ['/console/nope.js', '/console/assets/notes.md', '/console/.env', '/console/link.txt', '/console/../outside.txt',
        '/console/%2e%2e/outside.txt', '/console/..%2foutside.txt', '/console/assets/..%2f..%2foutside.txt', '/console//etc/passwd',
        '/console/assets/', '/console/index.html%00.js']) {
        const r = await app.inject({ url });
        assert.ok(r.statusCode === 404 || r.statusCode === 400, `${url} → ${r.statusCode}`);
        assert.notEqual(r.body, 'outside', url);
        assert.equal(r.body.includes('SECRET'), false, url);
      }
      assert.equal((await app.inject({ url: '/console/nope.js' })).headers['content-type'], 'application/problem+json');
      assert.equal((await app.inject({ url: '/v1/secret' })).statusCode, 401, 'other routes still need the token');
      assert.equal((await app.inject({ method: 'POST', url: '/console/' })).statusCode, 404, 'GET and HEAD only');
    } finally {
      await app.close();
    }
  });

  it('answers 503 with the build command when the console is not built', async () => {
    const app = await appFor(join(dir, 'missing'));
    try {
      const r = await app.inject({ url: '/console/' });
      assert.equal(r.statusCode, 503);
      assert.match(r.body, /node scripts\/build\.mjs console/);
      assert.equal(r.headers['content-security-policy'], CONSOLE_CSP);
    } finally {
      await app.close();
    }
  });
});
