// Resource kinds through the running service: targets take `kind`, `targetRefs` (with sectionName where the kind has
// it) and `imagePullSecret` over REST (422 for a placement the kind cannot express), every sink gets the object of the
// target's kind — the GitOps directory (<kind>-<name>.yaml), server-side apply against a loopback Kubernetes API (the
// kind's path, apply-patch+yaml, fieldManager tollgate, force), the local long poll (still a WasmPlugin, its
// contract) — and switching a target's kind withdraws the old object before the new one is written, so one target
// never has two kinds at once. Targets stored before migration 014 carry over as WasmPlugins. Runs on SQLite and, in
// the PostgreSQL stage, on PostgreSQL.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { leading, seed, tempDir, testApp, testStoreUrl, type TestApp } from './helpers.js';
import { storeAtVersion } from './old-store.js';
import { fakeKubeApi, type FakeKubeApi } from './fake-kube-api.js';
import { celRules, checkCel, compileCrd, crdSchema } from './resource-kinds-crd.js';
import { renderCaptured } from './render-captured.js';

const GW = 'gateway.networking.k8s.io';
const DIGEST = 'f'.repeat(64);
const TE_PATH = '/apis/extensions.istio.io/v1alpha1/namespaces/shop/trafficextensions/tollgate-shop';
const EEP_PATH = '/apis/gateway.envoyproxy.io/v1alpha1/namespaces/shop/envoyextensionpolicies/tollgate-shop';
const WP_PATH = '/apis/extensions.istio.io/v1alpha1/namespaces/shop/wasmplugins/tollgate-shop';

interface TargetBody {
  id: string; name: string; kind: string; selector: unknown; targetRefs: unknown; imagePullSecret: string | null; reportToken?: string;
}
interface Problem { status: number; title: string; detail: string }

describe('resource kinds through the service', () => {
  let t: TestApp;
  let kube: FakeKubeApi;
  let root: string;
  let gitops: string;
  before(async () => {
    root = tempDir();
    gitops = join(root, 'gitops');
    kube = await fakeKubeApi();
    const kubeconfig = join(root, 'kubeconfig');
    writeFileSync(kubeconfig, kube.kubeconfigYaml());
    t = await testApp({
      distribution: [{ kind: 'dir', path: gitops }, { kind: 'kubernetes' }, { kind: 'local' }], kubeconfig,
      filterUrl: 'oci://registry.example.com/tollgate/filter:1.4.0', filterSha256: DIGEST,
    });
    await seed(t);
    await leading(t);
  });
  after(async () => {
    await t.close();
    await kube.close();
    rmSync(root, { recursive: true, force: true });
  });

  const files = (): string[] => readdirSync(gitops).filter((f) => !f.endsWith('.tmp')).sort();
  const mine = (): string[] => [...kube.objects.keys()].filter((p) => p.includes('/namespaces/shop/')).sort();

  it('refuses placements a kind cannot express with 422 naming the field, and malformed ones with 400', async () => {
    const svc = { group: '', kind: 'Service', name: 'orders' };
    const bad: [unknown, RegExp][] = [
      [{ kind: 'EnvoyExtensionPolicy', selector: { app: 'x' } }, /selector: a EnvoyExtensionPolicy has no workload selector/],
      [{ kind: 'EnvoyExtensionPolicy' }, /targetRefs: a EnvoyExtensionPolicy needs at least one/],
      [{ kind: 'EnvoyExtensionPolicy', targetRefs: [svc] }, /targetRefs\[0\]: core\/Service orders cannot be targeted by a EnvoyExtensionPolicy/],
      [{ kind: 'TrafficExtension', targetRefs: [{ group: GW, kind: 'HTTPRoute', name: 'r' }] }, /cannot be targeted by a TrafficExtension/],
      [{ targetRefs: [{ group: GW, kind: 'Gateway', name: 'g', sectionName: 'http' }] }, /targetRefs\[0\]\.sectionName: a WasmPlugin reference has no sectionName/],
      [{ kind: 'TrafficExtension', targetRefs: [{ group: GW, kind: 'GatewayClass', name: 'istio' }] }, /istio-waypoint/],
      [{ kind: 'TrafficExtension', selector: { app: 'x' }, targetRefs: [svc] }, /selector, targetRefs: set at most one/],
    ];
    for (const [extra, why] of bad) {
      const res = await t.admin('POST', '/v1/targets', { name: 'bad', namespace: 'shop', ...(extra as object) });
      assert.equal(res.statusCode, 422, `${JSON.stringify(extra)}: ${res.body}`);
      assert.match(res.headers['content-type'] as string, /problem\+json/);
      assert.match(res.json<Problem>().detail, why);
    }
    for (const extra of [{ kind: 'Deployment' }, { kind: 'TrafficExtension', targetRefs: [{ group: '', kind: 'Service', name: 'Not_A_Name' }] }, { imagePullSecret: '' }]) {
      assert.equal((await t.admin('POST', '/v1/targets', { name: 'bad', namespace: 'shop', ...extra })).statusCode, 400, JSON.stringify(extra));
    }
    assert.equal((await t.admin('GET', '/v1/targets')).json<{ items: unknown[] }>().items.length, 1, 'nothing was stored');
  });

  it('keeps the default target a WasmPlugin placed by the settings (409), though its pull secret can be set', async () => {
    const res = await t.admin('PATCH', '/v1/targets/default', { kind: 'TrafficExtension' });
    assert.equal(res.statusCode, 409, res.body);
    assert.match(res.json<Problem>().detail, /ships as a WasmPlugin/);
    const view = (await t.admin('GET', '/v1/targets/default')).json<TargetBody>();
    assert.equal(view.kind, 'WasmPlugin');
    assert.equal(view.imagePullSecret, null);
    assert.equal((await t.admin('PATCH', '/v1/targets/default', { kind: 'WasmPlugin' })).statusCode, 200, 'naming its own kind is no move');
    const secret = await t.admin('PATCH', '/v1/targets/default', { imagePullSecret: 'regcred' });
    assert.equal(secret.statusCode, 200, secret.body);
    await t.app.distributor.flush();
    assert.match(readFileSync(join(gitops, 'wasmplugin-tollgate.yaml'), 'utf8'), /\n {2}imagePullSecret: regcred\n/);
    assert.equal((await t.admin('PATCH', '/v1/targets/default', { imagePullSecret: null })).json<TargetBody>().imagePullSecret, null);
  });

  let id = '';
  let token = '';
  it('a TrafficExtension target on an ambient waypoint: every sink gets a TrafficExtension, the local channel a WasmPlugin', async () => {
    const created = await t.admin('POST', '/v1/targets', {
      name: 'tollgate-shop', namespace: 'shop', kind: 'TrafficExtension', targetRefs: [{ group: '', kind: 'Service', name: 'orders' }], imagePullSecret: 'tollgate-pull',
    });
    assert.equal(created.statusCode, 201, created.body);
    const body = created.json<TargetBody>();
    ({ id } = body);
    token = body.reportToken!;
    assert.equal(body.kind, 'TrafficExtension');
    assert.deepEqual(body.targetRefs, [{ group: '', kind: 'Service', name: 'orders' }]);
    assert.equal(body.imagePullSecret, 'tollgate-pull');
    assert.deepEqual((await t.admin('GET', `/v1/targets/${id}`)).json<TargetBody>().kind, 'TrafficExtension');
    await t.app.distributor.flush();

    assert.ok(files().includes('trafficextension-tollgate-shop.yaml'), files().join());
    assert.ok(files().includes('wasmplugin-tollgate.yaml'), 'the default target as before');
    const written = parse(readFileSync(join(gitops, 'trafficextension-tollgate-shop.yaml'), 'utf8')) as { kind: string; spec: { wasm: { imagePullSecret: string; sha256: string; pluginConfig: { usage: { token: string } } }; match?: unknown } };
    assert.equal(written.kind, 'TrafficExtension');
    assert.equal(written.spec.wasm.sha256, DIGEST);
    assert.equal(written.spec.wasm.imagePullSecret, 'tollgate-pull');
    assert.equal(written.spec.wasm.pluginConfig.usage.token, `Bearer ${token}`);
    assert.equal(written.spec.match, undefined, 'no match on a waypoint');
    const validate = compileCrd('istio-trafficextension-crd.yaml');
    assert.equal(validate(written), true, JSON.stringify(validate.errors));
    const cel = checkCel(celRules(crdSchema('istio-trafficextension-crd.yaml')), written);
    assert.deepEqual([...cel.failed, ...cel.unchecked], []);

    assert.deepEqual(mine(), [TE_PATH]);
    const patch = kube.requests.find((r) => r.method === 'PATCH' && r.path === TE_PATH)!;
    assert.equal(patch.contentType, 'application/apply-patch+yaml');
    assert.equal(patch.query.get('fieldManager'), 'tollgate');
    assert.equal(patch.query.get('force'), 'true');
    assert.deepEqual(parse(patch.body), written);

    const polled = await t.app.inject({ method: 'GET', url: '/v1/distribution/wasmplugin', headers: { authorization: `Bearer ${token}` } });
    assert.equal(polled.statusCode, 200, polled.body);
    const local = polled.json<{ version: string; wasmPlugin: { kind: string; spec: { pluginConfig: unknown } } }>();
    assert.equal(local.wasmPlugin.kind, 'WasmPlugin', 'the local contract is unchanged');
    assert.deepEqual(local.wasmPlugin.spec.pluginConfig, written.spec.wasm.pluginConfig);
  });

  it('switching to an EnvoyExtensionPolicy withdraws the TrafficExtension first; never both kinds for one target', async () => {
    const before = kube.requests.length;
    const refused = await t.admin('PATCH', `/v1/targets/${id}`, { kind: 'EnvoyExtensionPolicy', targetRefs: [{ group: '', kind: 'Service', name: 'orders' }] });
    assert.equal(refused.statusCode, 422, 'a Service is no EEP target');
    const switched = await t.admin('PATCH', `/v1/targets/${id}`, { kind: 'EnvoyExtensionPolicy', targetRefs: [{ group: GW, kind: 'HTTPRoute', name: 'orders', sectionName: 'api' }] });
    assert.equal(switched.statusCode, 200, switched.body);
    assert.equal(switched.json<TargetBody>().kind, 'EnvoyExtensionPolicy');
    await t.app.distributor.flush();

    assert.deepEqual(files(), ['envoyextensionpolicy-tollgate-shop.yaml', 'wasmplugin-tollgate.yaml']);
    assert.deepEqual(mine(), [EEP_PATH]);
    const calls = kube.requests.slice(before).filter((r) => r.method !== 'GET').map((r) => `${r.method} ${r.path}`);
    assert.deepEqual(calls.filter((c) => c.includes('/namespaces/shop/')), [`DELETE ${TE_PATH}`, `PATCH ${EEP_PATH}`], 'withdrawn before the new kind is written');

    const eep = parse(readFileSync(join(gitops, 'envoyextensionpolicy-tollgate-shop.yaml'), 'utf8')) as { spec: { targetRefs: unknown; wasm: { code: unknown; failOpen: boolean; config: { usage: { token: string } } }[] } };
    assert.deepEqual(eep.spec.targetRefs, [{ group: GW, kind: 'HTTPRoute', name: 'orders', sectionName: 'api' }]);
    assert.deepEqual(eep.spec.wasm[0]!.code, {
      type: 'Image', image: { url: 'registry.example.com/tollgate/filter:1.4.0', sha256: DIGEST, pullSecretRef: { group: '', kind: 'Secret', name: 'tollgate-pull' } }, pullPolicy: 'IfNotPresent',
    });
    assert.equal(eep.spec.wasm[0]!.failOpen, false);
    assert.equal(eep.spec.wasm[0]!.config.usage.token, `Bearer ${token}`);
    const validate = compileCrd('envoy-gateway-envoyextensionpolicy-crd.yaml');
    assert.equal(validate(eep), true, JSON.stringify(validate.errors));
    const cel = checkCel(celRules(crdSchema('envoy-gateway-envoyextensionpolicy-crd.yaml')), eep);
    assert.deepEqual([...cel.failed, ...cel.unchecked], []);

    const status = (await t.admin('GET', '/v1/distribution')).json<{ targets: { target: string; wasmPlugin: string; kind: string; error: string | null }[] }>().targets
      .filter((s) => s.wasmPlugin === 'shop/tollgate-shop');
    assert.equal(status.length, 3, 'one status per sink');
    assert.deepEqual(status.map((s) => s.kind), ['EnvoyExtensionPolicy', 'EnvoyExtensionPolicy', 'EnvoyExtensionPolicy']);
    assert.ok(status.every((s) => s.error === null), JSON.stringify(status));
  });

  it('a withdrawal the API server refuses holds the switch back (the old kind stays, the new one is not written) until it succeeds', async () => {
    kube.refuseDeletes = true;
    try {
      const res = await t.admin('PATCH', `/v1/targets/${id}`, { kind: 'TrafficExtension', targetRefs: [{ group: GW, kind: 'Gateway', name: 'waypoint' }] });
      assert.equal(res.statusCode, 200, res.body);
      await t.app.distributor.flush();
      assert.deepEqual(mine(), [EEP_PATH], 'still the EnvoyExtensionPolicy only');
      const kubeStatus = (await t.admin('GET', '/v1/distribution')).json<{ targets: { target: string; wasmPlugin: string; error: string | null }[] }>().targets
        .find((s) => s.target === 'kubernetes' && s.wasmPlugin === 'shop/tollgate-shop')!;
      assert.ok(kubeStatus.error !== null, 'the failure is shown');
      // The GitOps directory (no refusal there) switched.
      assert.deepEqual(files(), ['trafficextension-tollgate-shop.yaml', 'wasmplugin-tollgate.yaml']);
      await t.app.distributor.distributeNow(); // the retry, without waiting 5 s
      assert.deepEqual(mine(), [EEP_PATH], 'a retry still does not write the new kind next to the old one');
    } finally {
      kube.refuseDeletes = false;
    }
    await t.app.distributor.distributeNow();
    assert.deepEqual(mine(), [TE_PATH]);
    // And back to the EnvoyExtensionPolicy for the next step.
    assert.equal((await t.admin('PATCH', `/v1/targets/${id}`, { kind: 'EnvoyExtensionPolicy', targetRefs: [{ group: GW, kind: 'HTTPRoute', name: 'orders', sectionName: 'api' }] })).statusCode, 200);
    await t.app.distributor.flush();
    assert.deepEqual(mine(), [EEP_PATH]);
  });

  it('back to a WasmPlugin on sidecars (selector): the EnvoyExtensionPolicy goes, the WasmPlugin comes', async () => {
    const res = await t.admin('PATCH', `/v1/targets/${id}`, { kind: 'WasmPlugin', targetRefs: null, selector: { app: 'orders' }, imagePullSecret: null });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json<TargetBody>().imagePullSecret, null);
    await t.app.distributor.flush();
    assert.deepEqual(files(), ['wasmplugin-tollgate-shop.yaml', 'wasmplugin-tollgate.yaml']);
    assert.deepEqual(mine(), [WP_PATH]);
    const wp = parse(readFileSync(join(gitops, 'wasmplugin-tollgate-shop.yaml'), 'utf8')) as { spec: Record<string, unknown> };
    assert.deepEqual(Object.keys(wp.spec), ['url', 'sha256', 'imagePullPolicy', 'pluginName', 'phase', 'failStrategy', 'selector', 'match', 'pluginConfig']);
  });

  it('two patches at once cannot combine into a placement the kind cannot express (checked in the write\'s transaction)', async () => {
    // Each alone is fine: the target (a WasmPlugin on sidecars now) may become an EEP on a Gateway, or stay on its
    // sidecars with another selector. Together they would make an EEP with a selector.
    const gateway = await t.admin('PATCH', `/v1/targets/${id}`, { kind: 'TrafficExtension', selector: null, targetRefs: [{ group: GW, kind: 'Gateway', name: 'public-gw' }] });
    assert.equal(gateway.statusCode, 200, gateway.body);
    for (let round = 0; round < 5; round++) {
      const [toEep, toSidecars] = await Promise.all([
        t.admin('PATCH', `/v1/targets/${id}`, { kind: 'EnvoyExtensionPolicy' }),
        t.admin('PATCH', `/v1/targets/${id}`, { targetRefs: null, selector: { app: `orders-${round}` } }),
      ]);
      const codes = [toEep.statusCode, toSidecars.statusCode].sort();
      assert.deepEqual(codes, [200, 422], `round ${round}: ${toEep.body} ${toSidecars.body}`);
      const now = (await t.admin('GET', `/v1/targets/${id}`)).json<TargetBody>();
      assert.ok(!(now.kind === 'EnvoyExtensionPolicy' && now.selector !== null), JSON.stringify(now));
      const back = await t.admin('PATCH', `/v1/targets/${id}`, { kind: 'TrafficExtension', selector: null, targetRefs: [{ group: GW, kind: 'Gateway', name: 'public-gw' }] });
      assert.equal(back.statusCode, 200, back.body);
    }
    assert.equal((await t.admin('PATCH', `/v1/targets/${id}`, { kind: 'WasmPlugin', targetRefs: null, selector: { app: 'orders' } })).statusCode, 200);
    await t.app.distributor.flush();
    assert.deepEqual(mine(), [WP_PATH]);
  });

  it('deleting the target withdraws its object from every sink', async () => {
    assert.equal((await t.admin('DELETE', `/v1/targets/${id}`)).statusCode, 204);
    await t.app.distributor.flush();
    assert.deepEqual(files(), ['wasmplugin-tollgate.yaml']);
    assert.deepEqual(mine(), []);
  });
});

describe('a target its kind cannot carry the filter image for', () => {
  it('an EnvoyExtensionPolicy with a file:// filter url: its status says why, the other targets go out, nothing is withdrawn', async () => {
    const dir = tempDir();
    // The default settings' filter url is file://…/build/tollgate.wasm: on a proxy's disk, out of the EG controller's reach.
    const t = await testApp({ distribution: [{ kind: 'dir', path: dir }] });
    try {
      await leading(t);
      const created = await t.admin('POST', '/v1/targets', { name: 'eg', namespace: 'edge', kind: 'EnvoyExtensionPolicy', targetRefs: [{ group: GW, kind: 'Gateway', name: 'public' }] });
      assert.equal(created.statusCode, 201, created.body);
      await t.app.distributor.flush();
      assert.deepEqual(readdirSync(dir), ['wasmplugin-tollgate.yaml']);
      const status = (await t.admin('GET', '/v1/distribution')).json<{ targets: { wasmPlugin: string; error: string | null; version: string | null }[] }>().targets;
      const eg = status.find((s) => s.wasmPlugin === 'edge/eg')!;
      assert.match(eg.error!, /Envoy Gateway fetches the module in its controller/);
      assert.equal(eg.version, null);
      assert.equal(status.find((s) => s.wasmPlugin === 'default/tollgate')!.error, null);
      // A policy change still reaches the default target.
      assert.equal((await t.admin('POST', '/v1/apis', { name: 'more', pathPrefix: '/more' })).statusCode, 201);
      await t.app.distributor.flush();
      assert.ok(readFileSync(join(dir, 'wasmplugin-tollgate.yaml'), 'utf8').includes('/more'));
      assert.equal(existsSync(join(dir, 'envoyextensionpolicy-eg.yaml')), false);
    } finally {
      await t.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('migration 014 (resource kinds)', () => {
  it('targets stored before carry over as WasmPlugins, rendered as before, and can then change kind', async () => {
    const place = await testStoreUrl();
    const dir = tempDir();
    try {
      await storeAtVersion(place.url, 13, [
        `INSERT INTO targets (id, name, namespace, selector, target_refs, api_ids, deny_unmatched, pass_path_forms, report_token, created_at, updated_at)
         VALUES ('tgt_old0000000', 'old-gw', 'edge', NULL, '[{"group":"gateway.networking.k8s.io","kind":"Gateway","name":"public"}]', '[]', false, '[]', 'tgr_old00000000000000000000000000000000', 1, 1)`,
      ]);
      const t = await testApp({ dbPath: place.url, distribution: [{ kind: 'dir', path: dir }] });
      try {
        await leading(t);
        const old = (await t.admin('GET', '/v1/targets/tgt_old0000000')).json<TargetBody>();
        assert.equal(old.kind, 'WasmPlugin');
        assert.equal(old.imagePullSecret, null);
        await t.app.distributor.flush();
        const wp = parse(readFileSync(join(dir, 'wasmplugin-old-gw.yaml'), 'utf8')) as { kind: string; spec: { targetRefs: unknown; match?: unknown } };
        assert.equal(wp.kind, 'WasmPlugin');
        assert.deepEqual(wp.spec.targetRefs, [{ group: GW, kind: 'Gateway', name: 'public' }]);
        assert.equal(wp.spec.match, undefined);
        const moved = await t.admin('PATCH', '/v1/targets/tgt_old0000000', { kind: 'TrafficExtension' });
        assert.equal(moved.statusCode, 200, moved.body);
        await t.app.distributor.flush();
        assert.deepEqual(readdirSync(dir).sort(), ['trafficextension-old-gw.yaml', 'wasmplugin-tollgate.yaml']);
      } finally {
        await t.close();
      }
    } finally {
      await place.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('tollgate render: every kind', () => {
  const render = renderCaptured;

  it('writes <kind>-<name>.yaml per target (or prints them all), each valid for its CRD; an unrenderable target exits 1 without holding back the others', async () => {
    const place = await testStoreUrl();
    const dir = tempDir();
    try {
      const t = await testApp({ dbPath: place.url });
      try {
        await seed(t);
        for (const body of [
          { name: 'te', namespace: 'shop', kind: 'TrafficExtension', selector: { app: 'shop' } },
          { name: 'eg', namespace: 'edge', kind: 'EnvoyExtensionPolicy', targetRefs: [{ group: GW, kind: 'HTTPRoute', name: 'orders' }] },
        ]) assert.equal((await t.admin('POST', '/v1/targets', body)).statusCode, 201);
      } finally {
        await t.close();
      }
      const image = ['--filter-url', 'oci://registry.example.com/tollgate/filter:1.4.0', '--filter-sha256', DIGEST];
      const written = await render(['--db', place.url, '--out', join(dir, 'out'), ...image]);
      assert.equal(written.code, 0, written.err);
      assert.deepEqual(readdirSync(join(dir, 'out')).sort(), ['envoyextensionpolicy-eg.yaml', 'trafficextension-te.yaml', 'wasmplugin-tollgate.yaml']);
      const crds: Record<string, string> = {
        WasmPlugin: 'istio-wasmplugin-crd.yaml', TrafficExtension: 'istio-trafficextension-crd.yaml', EnvoyExtensionPolicy: 'envoy-gateway-envoyextensionpolicy-crd.yaml',
      };
      for (const f of readdirSync(join(dir, 'out'))) {
        const object = parse(readFileSync(join(dir, 'out', f), 'utf8')) as { kind: string };
        const validate = compileCrd(crds[object.kind]!);
        assert.equal(validate(object), true, `${f}: ${JSON.stringify(validate.errors)}`);
        const cel = checkCel(celRules(crdSchema(crds[object.kind]!)), object);
        assert.deepEqual([...cel.failed, ...cel.unchecked], [], f);
      }

      const printed = await render(['--db', place.url, ...image]);
      assert.equal(printed.code, 0, printed.err);
      const kinds = parseAllDocuments(printed.out).map((d) => (d.toJS() as { kind: string; metadata: { name: string } }));
      assert.deepEqual(kinds.map((k) => `${k.kind}/${k.metadata.name}`).sort(), ['EnvoyExtensionPolicy/eg', 'TrafficExtension/te', 'WasmPlugin/tollgate']);

      // The default filter url is file://: Envoy Gateway cannot fetch it.
      const partial = await render(['--db', place.url, '--out', join(dir, 'local')]);
      assert.equal(partial.code, 1);
      assert.match(partial.err, /target edge\/eg \(EnvoyExtensionPolicy\): filter url file:\/\/.*Envoy Gateway/);
      assert.deepEqual(readdirSync(join(dir, 'local')).sort(), ['trafficextension-te.yaml', 'wasmplugin-tollgate.yaml']);
    } finally {
      await place.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
