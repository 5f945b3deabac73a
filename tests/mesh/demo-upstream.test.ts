import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startDemoUpstream } from '../../mesh/demo-upstream.js';

describe('demo upstream', () => {
  it('echoes method, path with query, headers and body size as JSON', async () => {
    const upstream = await startDemoUpstream({ port: 0 });
    try {
      const res = await fetch(`http://127.0.0.1:${upstream.port}/demo/x?y=1`, { method: 'POST', headers: { 'x-tollgate-consumer': 'con_1' }, body: 'abc' });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /application\/json/);
      const echo = (await res.json()) as { method: string; path: string; headers: Record<string, string>; bodyBytes: number };
      assert.equal(echo.method, 'POST');
      assert.equal(echo.path, '/demo/x?y=1');
      assert.equal(echo.headers['x-tollgate-consumer'], 'con_1');
      assert.equal(echo.bodyBytes, 3);
      assert.equal(upstream.served(), 1);
    } finally {
      await upstream.close();
    }
  });
  it('refuses to start on a port already taken', async () => {
    const first = await startDemoUpstream({ port: 0 });
    try {
      await assert.rejects(startDemoUpstream({ port: first.port }), /EADDRINUSE/);
    } finally {
      await first.close();
    }
  });
});
