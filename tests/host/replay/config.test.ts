// Replay --config parsing: pluginConfig JSON or an Istio WasmPlugin, printed the way Istio hands it to Envoy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readReplayConfig } from '../../../host/replay/config.js';
import { canonicalJson } from '../../../contracts/canonical-json.js';

test('canonicalJson (the one printer replay uses): compact, keys sorted at every level, arrays kept in order', () => {
  assert.equal(canonicalJson({ b: 1, a: [{ z: true, y: null }, 'x'], c: { e: 1.5, d: 'q' } }), '{"a":[{"y":null,"z":true},"x"],"b":1,"c":{"d":"q","e":1.5}}');
});

test('a WasmPlugin YAML yields spec.pluginConfig, pluginName as root id and the fail strategy', () => {
  const plugin = readReplayConfig(['kind: WasmPlugin', 'spec:', '  pluginName: tollgate', '  failStrategy: FAIL_OPEN',
    '  pluginConfig:', '    version: 1', '    apis: []'].join('\n'));
  assert.deepEqual(plugin, { pluginConfig: '{"apis":[],"version":1}', rootId: 'tollgate', failStrategy: 'FAIL_OPEN' });
});

test('a plain JSON file is the pluginConfig itself; FAIL_CLOSE is the WasmPlugin default', () => {
  assert.deepEqual(readReplayConfig('{"version": 1, "apis": []}'), { pluginConfig: '{"apis":[],"version":1}' });
  assert.equal(readReplayConfig('kind: WasmPlugin\nspec: {}\n').failStrategy, 'FAIL_CLOSE');
  assert.equal(readReplayConfig('kind: WasmPlugin\nspec: {}\n').pluginConfig, '{}');
});

test('reads a WasmPlugin as the sidecar does: an unknown failStrategy is refused, not taken for FAIL_CLOSE', () => {
  assert.throws(() => readReplayConfig('kind: WasmPlugin\nspec:\n  failStrategy: FAIL_SOMETIMES\n'), /failStrategy FAIL_SOMETIMES is not one of FAIL_CLOSE, FAIL_OPEN, FAIL_RELOAD/);
});

test('a rendered TrafficExtension or EnvoyExtensionPolicy replays with the same pluginConfig, root id and fail strategy', () => {
  const te = readReplayConfig(['apiVersion: extensions.istio.io/v1alpha1', 'kind: TrafficExtension', 'spec:',
    '  targetRefs: [{group: "", kind: Service, name: orders}]', '  wasm:', '    url: oci://r.example/tollgate:1',
    '    pluginName: tollgate', '    failStrategy: FAIL_OPEN', '    pluginConfig: {version: 1, apis: []}'].join('\n'));
  assert.deepEqual(te, { pluginConfig: '{"apis":[],"version":1}', rootId: 'tollgate', failStrategy: 'FAIL_OPEN' });
  const eep = readReplayConfig(['apiVersion: gateway.envoyproxy.io/v1alpha1', 'kind: EnvoyExtensionPolicy', 'spec:',
    '  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: gw}]', '  wasm:', '  - name: tollgate',
    '    rootID: tollgate', '    failOpen: false', '    code: {type: Image, image: {url: r.example/tollgate:1}}',
    '    config: {version: 1, apis: []}'].join('\n'));
  assert.deepEqual(eep, { pluginConfig: '{"apis":[],"version":1}', rootId: 'tollgate', failStrategy: 'FAIL_CLOSE' });
});
