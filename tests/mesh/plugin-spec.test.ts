import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalJson } from '../../contracts/canonical-json.js';
import { planChange, readWasmPlugin, pluginSpecFromPlan, WasmPluginError } from '../../mesh/plugin-spec.js';

const SHA = 'a'.repeat(64);
const wasmPlugin = (spec: Record<string, unknown> = {}) => ({
  apiVersion: 'extensions.istio.io/v1alpha1',
  kind: 'WasmPlugin',
  metadata: { name: 'tollgate', namespace: 'shop' },
  spec: { url: 'file:///x/tollgate.wasm', sha256: SHA, pluginName: 'tollgate', phase: 'AUTHN', pluginConfig: { version: 1, apis: [], plans: [], keys: [] }, ...spec },
});

describe('canonicalJson (what Istio makes of pluginConfig)', () => {
  it('sorts keys at every depth, keeps array order, prints compactly', () => {
    assert.equal(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: 'x' } }), '{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}');
  });
  it('is the same for the same content in another insertion order', () => {
    assert.equal(canonicalJson({ x: 1, y: [true, null] }), canonicalJson({ y: [true, null], x: 1 }));
  });
  it('refuses values JSON cannot carry', () => {
    assert.throws(() => canonicalJson({ a: Number.NaN }), TypeError);
    assert.throws(() => canonicalJson([undefined]), TypeError);
  });
  it('escapes strings as JSON does', () => {
    assert.equal(canonicalJson({ 'k"': 'a\nb' }), '{"k\\"":"a\\nb"}');
  });
});

describe('readWasmPlugin', () => {
  it('maps pluginName → root id, namespace.name → plugin name, pluginConfig → sorted compact JSON', () => {
    const plan = readWasmPlugin(wasmPlugin({ failStrategy: 'FAIL_OPEN' }));
    assert.equal(plan.rootId, 'tollgate');
    assert.equal(plan.name, 'shop.tollgate');
    assert.equal(plan.vmId, 'tollgate');
    assert.equal(plan.pluginConfig, '{"apis":[],"keys":[],"plans":[],"version":1}');
    assert.equal(plan.failStrategy, 'FAIL_OPEN');
    assert.equal(plan.sha256, SHA);
  });
  it('names the VM after the plugin name, or the plugin when there is none', () => {
    assert.equal(readWasmPlugin(wasmPlugin({ pluginName: undefined })).vmId, 'shop.tollgate');
    assert.equal(readWasmPlugin(wasmPlugin({ pluginName: undefined })).rootId, '');
  });
  it('defaults failStrategy to FAIL_CLOSE like Istio', () => {
    assert.equal(readWasmPlugin(wasmPlugin()).failStrategy, 'FAIL_CLOSE');
  });
  it('passes inline vmConfig.env and skips HOST-valued entries', () => {
    const plan = readWasmPlugin(wasmPlugin({ vmConfig: { env: [{ name: 'A', value: '1' }, { name: 'B', valueFrom: 'HOST' }] } }));
    assert.deepEqual(plan.env, { A: '1' });
  });
  it('builds the host PluginSpec with the fetched bytes', () => {
    const plan = readWasmPlugin(wasmPlugin());
    const wasm = new Uint8Array([0, 97, 115, 109]);
    const spec = pluginSpecFromPlan(plan, wasm);
    assert.equal(spec.wasm, wasm);
    assert.equal(spec.rootId, 'tollgate');
    assert.equal(spec.pluginConfig, plan.pluginConfig);
  });
  for (const [what, object] of [
    ['a non-object', 'nope'],
    ['another kind', { kind: 'EnvoyFilter', spec: { url: 'file:///x' } }],
    ['no spec', { kind: 'WasmPlugin' }],
    ['no url', wasmPlugin({ url: '' })],
    ['a bad sha256', wasmPlugin({ sha256: 'sha256:abc' })],
    ['an unknown failStrategy', wasmPlugin({ failStrategy: 'FAIL_SOMETIMES' })],
    ['a NETWORK plugin', wasmPlugin({ type: 'NETWORK' })],
  ] as const) {
    it(`rejects ${what}`, () => assert.throws(() => readWasmPlugin(object), WasmPluginError));
  }
});

describe('planChange', () => {
  const base = readWasmPlugin(wasmPlugin());
  it('loads first', () => assert.equal(planChange(undefined, base), 'load'));
  it('reconfigures when only pluginConfig changed', () => {
    assert.equal(planChange(base, readWasmPlugin(wasmPlugin({ pluginConfig: { version: 1, apis: [], plans: [], keys: [], denyUnmatched: true } }))), 'reconfigure');
  });
  it('does nothing for the same bytes even when the object key order differs', () => {
    assert.equal(planChange(base, readWasmPlugin(wasmPlugin({ pluginConfig: { keys: [], plans: [], apis: [], version: 1 } }))), 'unchanged');
  });
  it('asks for a replacement when the module or root id changes', () => {
    assert.equal(planChange(base, readWasmPlugin(wasmPlugin({ sha256: 'b'.repeat(64) }))), 'replace');
    assert.equal(planChange(base, readWasmPlugin(wasmPlugin({ pluginName: 'other' }))), 'replace');
  });
});
