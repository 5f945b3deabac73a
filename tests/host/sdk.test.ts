// A third-party module: the pass-through filter built with @gcoredev/proxy-wasm-sdk-as loads under strict linking
// and passes traffic unchanged, directly and through the HTTP front.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHost, startFront } from '../../host/index.js';
import { fixture, text } from './helpers.js';

const sdkSpec = () => ({ name: 'sdk', rootId: 'sdk_passthrough', vmId: 'sdk', wasm: fixture('sdk-passthrough.wasm'), pluginConfig: '{}' });

test('SDK pass-through: loads (canary, workers, main) and forwards requests and responses unchanged', async () => {
  const logs: string[] = [];
  const host = createHost({ onLog: (r) => logs.push(`${r.level}:${r.message}`) });
  await host.load(sdkSpec());
  for (let i = 0; i < 200; i++) {
    const r = await host.request({ method: 'POST', path: `/items/${i}?q=1`, headers: { 'x-api-key': 'k' }, body: `body-${i}` },
      (u) => ({ status: 201, headers: [['x-echo', u.path]], body: text(u.body).toUpperCase() }));
    assert.equal(r.status, 201);
    assert.equal(text(r.body), `BODY-${i}`);
    assert.deepEqual(r.headers, [['x-echo', `/items/${i}?q=1`]]);
    assert.equal(r.upstreamRequest!.headers[0]![0], 'x-api-key');
    assert.equal(r.localReply, false);
  }
  assert.equal(host.stats().vmFailures, 0);
  assert.ok(!logs.some((l) => l.startsWith('error') || l.startsWith('critical')), logs.join('\n'));
  await host.close();
});

test('SDK pass-through behind the HTTP front', async () => {
  const upstream = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => res.end(`${req.method} ${req.url} ${body}`));
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const host = createHost({ clock: 'real' });
  await host.load(sdkSpec());
  const front = await startFront(host, { port: 0, upstream: { host: '127.0.0.1', port: (upstream.address() as AddressInfo).port } });
  const res = await fetch(`http://127.0.0.1:${front.port}/x?y=1`, { method: 'PUT', body: 'data' });
  assert.equal(res.status, 200);
  assert.equal(await res.text(), 'PUT /x?y=1 data');
  await front.close();
  await host.close();
  upstream.closeAllConnections();
  await new Promise((resolve) => upstream.close(resolve));
});
