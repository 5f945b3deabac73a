// Shutdown must not hang on a client that went away mid-request (a proxy's long poll cut by its own shutdown): the
// mesh's supervisor SIGKILLs a control service that takes 10 s, which is not a graceful shutdown.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startControl } from '../../control/server.js';
import { DRAIN_MS } from '../../control/app.js';
import { REPORT, tempDir } from './helpers.js';

describe('closing with a long poll whose client went away', () => {
  it('finishes within the drain bound instead of waiting for the dead connection', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'f.wasm'), 'x');
    const c = await startControl({
      dbPath: join(dir, 'db'), adminToken: 'admin-token-0123456789', reportToken: REPORT, logLevel: 'silent',
      distribution: [{ kind: 'local' }], filterUrl: `file://${dir}/f.wasm`, filterSha256: 'a'.repeat(64),
    });
    try {
      const headers = { authorization: `Bearer ${REPORT}` };
      const { version } = await (await fetch(`${c.url}/v1/distribution/wasmplugin`, { headers })).json() as { version: string };
      // The way the sidecar's distribution client polls (fetch), then aborted as its shutdown does.
      const gone = new AbortController();
      const poll = fetch(`${c.url}/v1/distribution/wasmplugin?known=${version}&waitSeconds=30`, { headers, signal: gone.signal }).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 200));
      gone.abort();
      await poll;
      await new Promise((r) => setTimeout(r, 200));
      const started = Date.now();
      await c.close();
      const took = Date.now() - started;
      // A functional bound (the drain cap plus slack), not a speed goal: without the cap this took ~3.7 s here and >10 s in the mesh.
      assert.ok(took < DRAIN_MS + 1500, `close took ${took} ms`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
