// Discovery's document source on its own (control/discovery/spec-source.ts): documents fetched over real HTTP from a
// loopback "Service" are reused per Service version within a byte budget, so Services that whoever may annotate
// them can multiply (every version is a new key, each document up to maxBytes) cannot make the control service keep
// documents without bound.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { SpecSource } from '../../control/discovery/spec-source.js';

describe('discovery document source: reuse within a byte budget', () => {
  let server: Server;
  let port = 0;
  const hits: string[] = [];
  before(async () => {
    // /doc/<bytes>: a JSON document of about that size.
    server = createServer((req, res) => {
      hits.push(req.url!);
      const size = Number(req.url!.split('/')[2]);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ openapi: '3.0.3', pad: 'x'.repeat(Math.max(0, size - 30)) }));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as { port: number }).port;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  // The "mesh": every Service name resolves to the loopback server.
  const meshFetch: typeof fetch = (input, init) => {
    const u = new URL(String(input));
    u.hostname = '127.0.0.1';
    u.port = String(port);
    return fetch(u, init);
  };
  const source = (maxCacheBytes: number): SpecSource => new SpecSource({
    core: { readNamespacedConfigMap: () => Promise.reject(new Error('no ConfigMaps in this test')) },
    maxBytes: 64 * 1024, timeoutMs: 2000, ttlMs: 60_000, maxCacheBytes, fetch: meshFetch,
  });
  const ref = (size: number) => ({ kind: 'url' as const, url: `http://docs.shop/doc/${size}` });

  it('keeps at most the budget, dropping the oldest versions first; kept ones are reused without a fetch', async () => {
    const s = source(3 * 1024);
    for (let v = 1; v <= 10; v++) {
      const got = await s.get(ref(1000), String(v));
      assert.equal(got.ok, true);
      assert.ok(s.keptBytes <= 3 * 1024, `kept ${s.keptBytes} bytes after version ${v}`);
    }
    assert.ok(s.keptBytes > 0);
    hits.length = 0;
    for (const v of ['8', '9', '10']) assert.equal((await s.get(ref(1000), v)).ok, true);
    assert.deepEqual(hits, [], 'the newest versions are reused');
    assert.equal((await s.get(ref(1000), '1')).ok, true);
    assert.deepEqual(hits, ['/doc/1000'], 'the oldest was dropped and is fetched again');
    assert.ok(s.keptBytes <= 3 * 1024);
  });

  it('a document larger than the budget is served but not kept', async () => {
    const s = source(2 * 1024);
    hits.length = 0;
    for (let i = 0; i < 2; i++) {
      const got = await s.get(ref(5000), '1');
      assert.ok(got.ok && got.body.byteLength > 4 * 1024);
    }
    assert.deepEqual(hits, ['/doc/5000', '/doc/5000']);
    assert.equal(s.keptBytes, 0);
  });
});
