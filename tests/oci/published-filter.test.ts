// The whole path an Istio sidecar takes, minus Istio: publish build/tollgate.wasm to a real registry, pull it back the
// way istio-agent does (manifest → the layer with the Wasm media type), load those bytes into the Envoy-like host
// with the pluginConfig from manifests/wasmplugin.yaml, and send requests through it.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { parse } from 'yaml';
import { createHost, type Host } from '../../host/index.js';
import { MEDIA_TYPES, buildWasmImage, type Descriptor } from '../../oci/manifest.js';
import { pushImage } from '../../oci/push.js';
import { RegistryClient } from '../../oci/registry.js';
import { registryUnavailable, startRegistry, type RunningRegistry } from './registry-server.js';

const wasmPath = new URL('../../build/tollgate.wasm', import.meta.url).pathname;
const skip = registryUnavailable() ?? (existsSync(wasmPath) ? undefined : 'SKIPPED: build/tollgate.wasm missing — run `npm run build` first');
if (skip !== undefined) console.warn(`tests/oci/published-filter.test.ts: ${skip}`);

interface WasmPluginDoc {
  spec: { pluginName: string; pluginConfig: { keys: unknown[][]; [field: string]: unknown } };
}

describe('the published filter, pulled back from the registry, runs with the manifests pluginConfig', { skip }, () => {
  let registry: RunningRegistry;
  let host: Host;
  const plugin = parse(readFileSync(new URL('../../manifests/wasmplugin.yaml', import.meta.url), 'utf8')) as WasmPluginDoc;

  before(async () => {
    registry = await startRegistry();
    const client = new RegistryClient({ registry: registry.host, repository: 'tollgate/filter', insecure: true });
    const built = readFileSync(wasmPath);
    await pushImage(client, buildWasmImage(built, { format: 'artifact', rootIds: [plugin.spec.pluginName] }), '0.1.0');

    const manifest = JSON.parse((await client.getManifest('0.1.0')).bytes.toString('utf8')) as { layers: Descriptor[] };
    const layer = manifest.layers.find((l) => l.mediaType === MEDIA_TYPES.wasmLayer);
    assert.ok(layer !== undefined);
    const pulled = await client.getBlob(layer.digest);
    assert.deepEqual(pulled, built);

    // The example config plus one key we know the plaintext of.
    const config = structuredClone(plugin.spec.pluginConfig);
    config.keys.push([createHash('sha256').update('demo-key').digest('base64url'), 'key_demo', 'con_demo', 0]);
    host = createHost({ clock: 'virtual', startTimeMs: Date.UTC(2026, 0, 1), workers: 1 });
    await host.load({ name: 'tollgate', rootId: plugin.spec.pluginName, vmId: 'tollgate', wasm: pulled, pluginConfig: JSON.stringify(config) });
  });

  after(async () => {
    await host?.close();
    await registry?.stop();
  });

  const upstream = () => ({ status: 200, headers: [['content-type', 'text/plain']] as Array<[string, string]>, body: 'ok' });

  test('no key on a protected path: 401 from the filter, upstream not called', async () => {
    const r = await host.request({ method: 'GET', path: '/orders/1', authority: 'shop.shop' }, upstream);
    assert.equal(r.status, 401);
    assert.equal(r.localReply, true);
  });

  test('a configured key: 200 from upstream, key hidden, consumer identified', async () => {
    const r = await host.request({ method: 'GET', path: '/orders/1', authority: 'shop.shop', headers: { 'x-api-key': 'demo-key' } }, upstream);
    assert.equal(r.status, 200);
    const sent = r.upstreamRequest?.headers ?? [];
    assert.equal(sent.find(([k]) => k === 'x-api-key'), undefined);
    assert.equal(sent.find(([k]) => k === 'x-tollgate-consumer')?.[1], 'con_demo');
  });
});
