// Shutdown must not hang on a connection whose client stopped mid-request (e.g. a proxy's long poll cut by its own
// shutdown): the mesh's supervisor SIGKILLs a control service that takes 10 s, which is not a graceful shutdown.
// The service cuts connections still open after its drain period (anything acknowledged is already on disk).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { startControl } from '../../control/server.js';
import { tempDir } from './helpers.js';

describe('closing with a client stuck mid-request', () => {
  it('cuts the connection after the drain period instead of waiting for the client', async () => {
    const dir = tempDir();
    const c = await startControl({ dbPath: join(dir, 'db'), adminToken: 'admin-token-0123456789', logLevel: 'silent' });
    try {
      const { hostname, port } = new URL(c.url);
      // Half a request: Node's server neither answers nor treats the connection as idle, so without the drain cap
      // close() waits for the client (or Node's 60 s headersTimeout).
      const socket = connect(Number(port), hostname);
      await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
      socket.write('GET /v1/apis HTTP/1.1\r\nhost: x\r\n');
      const cut = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      socket.on('error', () => undefined);
      await new Promise((r) => setTimeout(r, 100));
      // A liveness guard far above the 1 s drain and far below the 60 s the server would otherwise wait: it tells
      // "cut" from "hung", it does not measure speed.
      let guard: NodeJS.Timeout | undefined;
      const hung = new Promise<'hung'>((resolve) => { guard = setTimeout(() => resolve('hung'), 20_000); });
      const outcome = await Promise.race([Promise.all([c.close(), cut]).then(() => 'closed' as const), hung]);
      clearTimeout(guard);
      assert.equal(outcome, 'closed');
      assert.equal(socket.destroyed, true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
