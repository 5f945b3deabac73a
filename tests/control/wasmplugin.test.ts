import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { Ajv } from 'ajv';
import { KubeConfig } from '@kubernetes/client-node';
import { compile } from '../../control/compiler/compile.js';
import { renderWasmPlugin, type WasmPlugin, type WasmPluginOptions } from '../../control/distribution/wasmplugin.js';
import type { Rendered } from '../../control/distribution/targets/target.js';
import { DirTarget } from '../../control/distribution/targets/dir.js';
import { KubernetesTarget } from '../../control/distribution/targets/kubernetes.js';
import { seed, tempDir, testApp } from './helpers.js';
import { digestOf } from '../../control/key-material.js';
import { KEY_FEED_SNAPSHOT_PATH } from '../../contracts/key-feed.js';
import { fakeKubeApi } from './fake-kube-api.js';

const crd = parse(readFileSync(new URL('../../schemas/istio-wasmplugin-crd.yaml', import.meta.url), 'utf8')) as {
  spec: { versions: { name: string; schema: { openAPIV3Schema: object } }[] };
};
// strict: false because the CRD schema carries Kubernetes extensions (x-kubernetes-*) Ajv does not know.
const validateCrd = new Ajv({ strict: false, allErrors: true }).compile(crd.spec.versions.find((v) => v.name === 'v1alpha1')!.schema.openAPIV3Schema);

/** The CEL rule Ajv cannot run: at most one of selector, targetRef, targetRefs. */
function oneTargetingField(spec: Record<string, unknown>): boolean {
  return ['selector', 'targetRef', 'targetRefs'].filter((f) => f in spec).length <= 1;
}

const options: WasmPluginOptions = {
  name: 'tollgate', namespace: 'shop', pluginName: 'tollgate', url: 'oci://ghcr.io/example/tollgate:0.1.0',
  sha256: 'a'.repeat(64), failStrategy: 'FAIL_CLOSE', selector: { app: 'orders' }, targetRefs: undefined,
};
/** A WasmPlugin target's rendering: the object is the WasmPlugin itself. */
const rendered = (plugin: WasmPlugin): Rendered => ({ resource: plugin, wasmPlugin: plugin });
const compiled = compile({ apis: [], plans: [] }, { usage: { cluster: 'c', authority: 'a', intervalMs: 1000, timeoutMs: 1000, reportToken: 'tgr_x' } });

describe('renderWasmPlugin', () => {
  it('renders a WasmPlugin valid against the Istio CRD schema, with selector or targetRefs', () => {
    for (const o of [options, { ...options, selector: undefined, targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'public' }] }, { ...options, sha256: undefined, selector: undefined, failStrategy: 'FAIL_OPEN' as const }]) {
      const plugin = renderWasmPlugin(compiled.config, compiled.version, o);
      assert.equal(validateCrd(plugin), true, JSON.stringify(validateCrd.errors));
      assert.equal(oneTargetingField(plugin.spec), true);
      assert.equal(plugin.spec.phase, 'AUTHN');
      assert.equal(plugin.spec.failStrategy, o.failStrategy);
      assert.deepEqual(plugin.spec.pluginConfig, compiled.config);
      assert.equal(plugin.metadata.annotations['tollgate.dev/config-version'], compiled.version);
    }
  });

  it('binds sidecars to inbound traffic only (match SERVER); gateways (targetRefs) get no direction', () => {
    assert.deepEqual(renderWasmPlugin(compiled.config, compiled.version, options).spec.match, [{ mode: 'SERVER' }]);
    assert.deepEqual(renderWasmPlugin(compiled.config, compiled.version, { ...options, selector: undefined }).spec.match, [{ mode: 'SERVER' }]);
    const gateway = renderWasmPlugin(compiled.config, compiled.version, { ...options, selector: undefined, targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'public' }] });
    assert.equal('match' in gateway.spec, false);
  });

  it('would be caught by the schema if it rendered a bad field', () => {
    const plugin = renderWasmPlugin(compiled.config, compiled.version, { ...options, sha256: 'sha256:abc' });
    assert.equal(validateCrd(plugin), false);
  });
});

describe('dir target', () => {
  it('writes the YAML atomically (no temp files left) and replaces it on the next version', async () => {
    const dir = tempDir();
    try {
      const target = new DirTarget(join(dir, 'out'));
      await target.publish(rendered(renderWasmPlugin(compiled.config, compiled.version, options)));
      const second = compile({ apis: [{ id: 'api_x', name: 'x', pathPrefix: '/x', hosts: [], methods: [], createdAt: 0, updatedAt: 0 }], plans: [] }, {});
      await target.publish(rendered(renderWasmPlugin(second.config, second.version, options)));
      assert.deepEqual(readdirSync(join(dir, 'out')), ['wasmplugin-tollgate.yaml']);
      const written = parse(readFileSync(join(dir, 'out', 'wasmplugin-tollgate.yaml'), 'utf8')) as { spec: { pluginConfig: unknown }; metadata: { annotations: Record<string, string> } };
      assert.deepEqual(written.spec.pluginConfig, second.config);
      assert.equal(written.metadata.annotations['tollgate.dev/config-version'], second.version);
      assert.equal(validateCrd(written), true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is kept up to date by the running service after changes', async () => {
    const dir = tempDir();
    const t = await testApp({ distribution: [{ kind: 'dir', path: dir }] });
    try {
      const s = await seed(t);
      await t.app.distributor.flush();
      const file = join(dir, 'wasmplugin-tollgate.yaml');
      const bytes = readFileSync(file, 'utf8');
      const plugin = parse(bytes) as { spec: { pluginConfig: { keys?: unknown[][]; keyFeed?: { snapshotPath: string } } } };
      assert.equal(plugin.spec.pluginConfig.keys, undefined);
      assert.equal(plugin.spec.pluginConfig.keyFeed?.snapshotPath, KEY_FEED_SNAPSHOT_PATH);
      assert.equal(bytes.includes(digestOf(s.key)), false, 'no key digest in the WasmPlugin');
      const view = (await t.admin('GET', '/v1/distribution')).json<{ version: string; targets: { target: string; version: string; distributedAt: string; error: null }[] }>();
      assert.equal(view.targets[0]!.target, `dir:${dir}`);
      assert.equal(view.targets[0]!.version, view.version);
      assert.ok(view.targets[0]!.distributedAt !== null);
    } finally {
      await t.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('dir target and keys', () => {
  it('creating, rotating and revoking keys rewrites no WasmPlugin: same version, same bytes, file not touched', async () => {
    const dir = tempDir();
    const t = await testApp({ distribution: [{ kind: 'dir', path: dir }] });
    try {
      const s = await seed(t);
      await t.app.distributor.flush();
      const file = join(dir, 'wasmplugin-tollgate.yaml');
      const before = readFileSync(file, 'utf8');
      const mtime = statSync(file).mtimeMs;
      const version = t.app.distributor.current!.compiled.version;
      assert.equal((await t.admin('POST', `/v1/consumers/${s.consumerId}/keys`, { planId: s.planId })).statusCode, 201);
      assert.equal((await t.admin('POST', `/v1/keys/${s.keyId}/rotate`, { gracePeriodSeconds: 60 })).statusCode, 201);
      assert.equal((await t.admin('POST', `/v1/keys/${s.keyId}/revoke`)).statusCode, 200);
      await t.app.distributor.flush();
      assert.equal(t.app.distributor.current!.compiled.version, version);
      assert.equal(readFileSync(file, 'utf8'), before);
      assert.equal(statSync(file).mtimeMs, mtime, 'the sink was not written to');
      // A policy change still goes out (the test would pass vacuously if nothing were ever published).
      assert.equal((await t.admin('POST', '/v1/apis', { name: 'more', pathPrefix: '/more' })).statusCode, 201);
      await t.app.distributor.flush();
      assert.notEqual(readFileSync(file, 'utf8'), before);
    } finally {
      await t.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('kubernetes target', () => {
  it('server-side applies the WasmPlugin: PATCH, apply-patch+yaml, fieldManager tollgate, force', async () => {
    const api = await fakeKubeApi();
    try {
      const kc = api.kubeConfig();
      const plugin = renderWasmPlugin(compiled.config, compiled.version, options);
      await new KubernetesTarget(kc).publish(rendered(plugin));
      const patch = api.requests.find((r) => r.method === 'PATCH');
      assert.ok(patch !== undefined, JSON.stringify(api.requests.map((r) => `${r.method} ${r.path}`)));
      assert.equal(patch.path, '/apis/extensions.istio.io/v1alpha1/namespaces/shop/wasmplugins/tollgate');
      assert.equal(patch.contentType, 'application/apply-patch+yaml');
      assert.equal(patch.query.get('fieldManager'), 'tollgate');
      assert.equal(patch.query.get('force'), 'true');
      assert.deepEqual(parse(patch.body), plugin);
    } finally {
      await api.close();
    }
  });

  it('rejects when the API server is unreachable (the distributor records the error and retries)', async () => {
    const api = await fakeKubeApi();
    await api.close();
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'gone', server: api.url, skipTLSVerify: true }], users: [{ name: 'u' }],
      contexts: [{ name: 'gone', cluster: 'gone', user: 'u' }], currentContext: 'gone',
    });
    await assert.rejects(new KubernetesTarget(kc).publish(rendered(renderWasmPlugin(compiled.config, compiled.version, options))));
  });
});
