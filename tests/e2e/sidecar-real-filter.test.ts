// The sidecar with the real host and the real filter (build/tollgate.wasm) behind a loopback stand-in of the
// distribution endpoints: a configuration the filter refuses is acked `rejected` while the previous one keeps
// enforcing, and the next good one applies — ECDS semantics with the real parts.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';
import { createHost } from '../../host/index.js';
import { distributionClient, type Ack } from '../../mesh/distribution-client.js';
import { sha256Hex } from '../../mesh/module-source.js';
import { startSidecar } from '../../mesh/sidecar.js';

const WASM_PATH = fileURLToPath(new URL('../../build/tollgate.wasm', import.meta.url));
const TOKEN = 'report-token-for-tests-0123';

const config = (pathPrefix: string, extra: Record<string, unknown> = {}) => ({
  version: 1, apis: [{ id: 'api_a', pathPrefix }], plans: [], keys: [], ...extra,
});

describe('sidecar + real host + real filter', { skip: existsSync(WASM_PATH) ? false : 'build/tollgate.wasm not built (npm run build:filter)' }, () => {
  it('refuses a configuration the filter rejects, keeps enforcing the previous one, then applies the next good one', async () => {
    const wasm = readFileSync(WASM_PATH);
    let current: { version: string; wasmPlugin: unknown } | undefined;
    const acks: Ack[] = [];
    let onAck: () => void = () => {};
    const publish = (version: string, pluginConfig: unknown) => {
      current = { version, wasmPlugin: { kind: 'WasmPlugin', metadata: { name: 'tollgate', namespace: 'default' }, spec: { url: pathToFileURL(WASM_PATH).href, sha256: sha256Hex(wasm), pluginName: 'tollgate', pluginConfig } } };
    };
    const server = createServer((req, res) => {
      assert.equal(req.headers.authorization, `Bearer ${TOKEN}`);
      const url = new URL(req.url!, 'http://x');
      if (url.pathname === '/v1/distribution/wasmplugin') {
        if (current === undefined || url.searchParams.get('known') === current.version) {
          setTimeout(() => res.writeHead(304).end(), 50); // a short hold keeps the test quick
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(current));
        return;
      }
      let body = '';
      req.on('data', (c) => { body += c; });
      req.on('end', () => { acks.push(JSON.parse(body) as Ack); res.writeHead(204).end(); onAck(); });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const controlUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const host = createHost({ workers: 2, clock: 'real', onLog: () => {} });
    const sidecar = startSidecar({ host, client: distributionClient(controlUrl, TOKEN), proxyId: 'real', waitSeconds: 1, upstreamHealthy: async () => true, log: () => {} });
    const ackFor = (version: string) => new Promise<Ack>((resolve) => {
      const check = () => { const a = acks.find((x) => x.version === version); if (a) resolve(a); else onAck = check; };
      check();
    });
    const status = async (path: string) => (await host.request({ method: 'GET', path, authority: 'shop.local' })).status;
    try {
      publish('v1', config('/one'));
      assert.equal((await ackFor('v1')).status, 'applied');
      assert.equal(await status('/one/x'), 401, 'v1 protects /one');
      assert.equal(await status('/two/x'), 200, 'v1 leaves /two alone');

      publish('v2', config('/two', { version: 2 })); // a format version the filter does not know
      const rejected = await ackFor('v2');
      assert.equal(rejected.status, 'rejected');
      assert.ok(rejected.message && rejected.message.length > 0);
      assert.equal(await status('/one/x'), 401, 'v1 still enforced after the refusal');
      assert.equal(await status('/two/x'), 200);
      assert.equal(sidecar.state().appliedVersion, 'v1');

      publish('v3', config('/two'));
      assert.equal((await ackFor('v3')).status, 'applied');
      assert.equal(await status('/two/x'), 401, 'v3 protects /two');
      assert.equal(await status('/one/x'), 200);
      assert.equal(host.stats().configRejections >= 1, true);
    } finally {
      await sidecar.stop();
      await host.close();
      await new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); });
    }
  });
});
