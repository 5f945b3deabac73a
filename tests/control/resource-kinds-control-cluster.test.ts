// How an Envoy Gateway target's filter reaches the control service: Envoy Gateway builds no cluster for a Service no
// route sends to, so each EnvoyExtensionPolicy target compiles its own cluster name (tollgate/<ns>/<name>) into the
// filter configuration and gets one EnvoyPatchPolicy per Gateway it names, adding that cluster (STRICT_DNS to the
// control Service). Checked: the decisions (pure), the EnvoyPatchPolicy against its CRD's schema and CEL rules, the
// sinks (GitOps files, server-side apply against a loopback Kubernetes API, written before the EEP and withdrawn
// after it; a Gateway leaving targetRefs withdraws its EnvoyPatchPolicy; a kind switch or deletion withdraws them all),
// `tollgate render`, and end to end: the real filter on the Envoy-like host, given only the clusters the rendered
// EnvoyPatchPolicy defines, pulls keys from and reports usage to the real control service over loopback HTTP.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { once } from 'node:events';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { compile } from '../../control/compiler/compile.js';
import { renderTarget } from '../../control/distribution/distributor.js';
import { controlEndpoint, usageClusterFor } from '../../control/distribution/resources/control-cluster.js';
import { CLUSTER_TYPE_URL, renderControlClusterPatches } from '../../control/distribution/resources/envoypatchpolicy.js';
import { renderCompanions } from '../../control/distribution/resources/render.js';
import { RenderError, type CompanionResource, type ResourceOptions } from '../../control/distribution/resources/resource.js';
import { RESOURCE_KINDS, envoyGatewayControlCluster, type TargetRef } from '../../contracts/resources.js';
import { renderCaptured } from './render-captured.js';
import { leading, seed, tempDir, testApp, type TestApp } from './helpers.js';
import { fakeKubeApi, type FakeKubeApi } from './fake-kube-api.js';
import { celRules, checkCel, compileCrd, crdSchema } from './resource-kinds-crd.js';
import { startHost, type Harness } from '../filter/harness.js';

const GW = 'gateway.networking.k8s.io';
const DIGEST = 'f'.repeat(64);
const EPP_CRD = 'envoy-gateway-envoypatchpolicy-crd.yaml';
const EEP_CRD = 'envoy-gateway-envoyextensionpolicy-crd.yaml';
const validateEpp = compileCrd(EPP_CRD);
const eppRules = celRules(crdSchema(EPP_CRD));
const ISTIO_CLUSTER = 'outbound|7070||tollgate-control.tollgate.svc.cluster.local';
const AT = { host: 'tollgate-control.tollgate.svc.cluster.local', port: 7070 };

/** Schema and CEL problems of a rendered EnvoyPatchPolicy (empty: the API server would accept it). */
function eppProblems(o: unknown): string[] {
  const out: string[] = [];
  if (!validateEpp(o)) out.push(...validateEpp.errors!.map((e) => `schema ${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`));
  const cel = checkCel(eppRules, o);
  out.push(...cel.failed.map((r) => `CEL ${r}`), ...cel.unchecked.map((r) => `CEL rule without a check: ${r}`));
  return out;
}

interface Patch { type: string; name: string; operation: { op: string; path: string; value: EnvoyCluster } }
interface EnvoyCluster {
  name: string; type: string; connect_timeout: string;
  load_assignment: { cluster_name: string; endpoints: { lb_endpoints: { endpoint: { address: { socket_address: { address: string; port_value: number } } } }[] }[] };
}
const patchesOf = (epp: { spec: unknown }): Patch[] => (epp.spec as { jsonPatches: Patch[] }).jsonPatches;

const base: ResourceOptions = {
  name: 'edge', namespace: 'shop', pluginName: 'tollgate', url: 'oci://registry.example.com/tollgate/filter:1.4.0',
  sha256: DIGEST, failStrategy: 'FAIL_CLOSE', selector: undefined, targetRefs: undefined,
};

describe('which cluster a target\'s filter calls, and where the control service is', () => {
  it('an EnvoyExtensionPolicy target has a cluster of its own; the Istio kinds keep TOLLGATE_USAGE_CLUSTER', () => {
    assert.equal(usageClusterFor('EnvoyExtensionPolicy', { namespace: 'shop', name: 'edge' }, ISTIO_CLUSTER), 'tollgate/shop/edge');
    assert.equal(envoyGatewayControlCluster('shop', 'edge'), 'tollgate/shop/edge');
    for (const kind of RESOURCE_KINDS.filter((k) => k !== 'EnvoyExtensionPolicy')) {
      assert.equal(usageClusterFor(kind, { namespace: 'shop', name: 'edge' }, ISTIO_CLUSTER), ISTIO_CLUSTER, kind);
    }
  });

  it('the control service\'s host and port: from Istio\'s outbound cluster name, else the authority (port 7070 when absent)', () => {
    const cases: [{ cluster: string; authority: string }, unknown][] = [
      [{ cluster: ISTIO_CLUSTER, authority: 'ignored' }, AT],
      [{ cluster: 'outbound|8443|v1|control.ops.svc.cluster.local', authority: 'x' }, { host: 'control.ops.svc.cluster.local', port: 8443 }],
      [{ cluster: 'my-cluster', authority: 'control.ops.svc:9000' }, { host: 'control.ops.svc', port: 9000 }],
      [{ cluster: 'my-cluster', authority: 'control.ops.svc' }, { host: 'control.ops.svc', port: 7070 }],
      [{ cluster: 'my-cluster', authority: '[fd00::1]:7071' }, { host: 'fd00::1', port: 7071 }],
      [{ cluster: 'my-cluster', authority: '' }, null],
      [{ cluster: 'my-cluster', authority: 'a:b:c' }, null],
      [{ cluster: 'outbound|0||x', authority: 'bad host:1' }, null],
      [{ cluster: 'my-cluster', authority: 'h:70000' }, null],
    ];
    for (const [usage, want] of cases) assert.deepEqual(controlEndpoint(usage), want, JSON.stringify(usage));
  });
});

describe('the EnvoyPatchPolicy adding the cluster', () => {
  const gw = (name: string, sectionName?: string): TargetRef => ({ group: GW, kind: 'Gateway', name, ...(sectionName === undefined ? {} : { sectionName }) });
  const route: TargetRef = { group: GW, kind: 'HTTPRoute', name: 'orders' };

  it('one per Gateway named (twice with two listeners counts once), in its namespace, each adding the whole Cluster, valid for the CRD', () => {
    const cluster = envoyGatewayControlCluster('shop', 'edge');
    const epps = renderCompanions('EnvoyExtensionPolicy', { ...base, targetRefs: [gw('public', 'https'), route, gw('internal'), gw('public', 'http')] }, cluster, AT);
    assert.deepEqual(epps.map((e) => [e.kind, e.metadata.namespace, e.metadata.name, (e.spec.targetRef as { name: string }).name]), [
      ['EnvoyPatchPolicy', 'shop', 'edge-control-0', 'public'], ['EnvoyPatchPolicy', 'shop', 'edge-control-1', 'internal'],
    ]);
    for (const epp of epps) {
      assert.deepEqual(eppProblems(epp), []);
      assert.equal(epp.apiVersion, 'gateway.envoyproxy.io/v1alpha1');
      assert.deepEqual(epp.spec.targetRef, { group: GW, kind: 'Gateway', name: (epp.spec.targetRef as { name: string }).name });
      assert.equal(epp.spec.type, 'JSONPatch');
      assert.deepEqual(epp.metadata.labels, { 'app.kubernetes.io/managed-by': 'tollgate', 'app.kubernetes.io/name': 'tollgate' });
      assert.equal(epp.metadata.annotations['tollgate.dev/companion-of'], 'EnvoyExtensionPolicy/edge');
      // EG adds a whole resource for op add with an empty path (internal/xds/translator/jsonpatch.go).
      assert.deepEqual(patchesOf(epp), [{
        type: CLUSTER_TYPE_URL, name: cluster,
        operation: {
          op: 'add', path: '', value: {
            name: cluster, type: 'STRICT_DNS', connect_timeout: '5s',
            load_assignment: { cluster_name: cluster, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: AT.host, port_value: AT.port } } } }] }] },
          },
        },
      }]);
    }
    const cel = checkCel(eppRules, epps[0]);
    assert.ok(cel.applied.includes('spec/jsonPatches/[] either name or nameSelector must be specified'), 'the CEL checks ran');
  });

  it('none for a target naming only routes or listener sets, none for the Istio kinds', () => {
    assert.deepEqual(renderCompanions('EnvoyExtensionPolicy', { ...base, targetRefs: [route, { group: GW, kind: 'ListenerSet', name: 'ls' }] }, 'c', AT), []);
    assert.deepEqual(renderCompanions('TrafficExtension', { ...base, targetRefs: [gw('waypoint')] }, ISTIO_CLUSTER, AT), []);
    assert.deepEqual(renderCompanions('WasmPlugin', { ...base, targetRefs: [gw('public')] }, ISTIO_CLUSTER, AT), []);
    // No address needed when there is nothing to add.
    assert.deepEqual(renderCompanions('EnvoyExtensionPolicy', { ...base, targetRefs: [route] }, 'c', null), []);
  });

  it('refuses to render what it cannot: no address for the control service, a name too long for Kubernetes', () => {
    assert.throws(() => renderCompanions('EnvoyExtensionPolicy', { ...base, targetRefs: [gw('public')] }, 'c', null), RenderError);
    assert.throws(() => renderControlClusterPatches({ name: 'a'.repeat(250), namespace: 'shop', targetRefs: [gw('public')] }, 'c', AT), /too long/);
  });

  it('the validation catches what the API server would refuse or prune', () => {
    const [epp] = renderCompanions('EnvoyExtensionPolicy', { ...base, targetRefs: [gw('public')] }, 'c', AT) as [CompanionResource];
    const [patch] = patchesOf(epp);
    const bad: [unknown, RegExp][] = [
      [{ ...epp, spec: { ...epp.spec, targetRef: undefined } }, /schema \/spec must have required property 'targetRef'/],
      [{ ...epp, spec: { ...epp.spec, type: 'StrategicMerge' } }, /schema \/spec\/type/],
      [{ ...epp, spec: { ...epp.spec, jsonPatches: [{ ...patch, type: 'type.googleapis.com/envoy.config.cluster.v3.Clusters' }] } }, /schema \/spec\/jsonPatches\/0\/type/],
      [{ ...epp, spec: { ...epp.spec, jsonPatches: [{ ...patch, name: undefined }] } }, /CEL spec\/jsonPatches\/\[\] either name or nameSelector/],
      [{ ...epp, spec: { ...epp.spec, jsonPatches: [{ ...patch, nameSelector: { value: 'x' } }] } }, /CEL spec\/jsonPatches\/\[\] only one of name and nameSelector/],
      [{ ...epp, spec: { ...epp.spec, targetRefs: [epp.spec.targetRef] } }, /additionalProperty":"targetRefs"/],
    ];
    for (const [object, why] of bad) {
      const found = eppProblems(JSON.parse(JSON.stringify(object)));
      assert.ok(found.some((p) => why.test(p)), `${why}: ${JSON.stringify(found)}`);
    }
  });

  it('renderTarget: the cluster the filter configuration names is the one the EnvoyPatchPolicy adds; other kinds unchanged', () => {
    const snapshot = { apis: [{ id: 'api_orders', name: 'orders', pathPrefix: '/orders', hosts: [], methods: [], createdAt: 0, updatedAt: 0 }], plans: [], operations: [], targets: [] };
    const target = {
      id: 'tgt_edge', name: 'edge', namespace: 'shop', selector: null, targetRefs: [gw('public'), route], kind: 'EnvoyExtensionPolicy', imagePullSecret: null,
      apiIds: [], denyUnmatched: false, passPathForms: [], rateLimitHeaderStyle: 'legacy', shadowHeader: null, reportToken: 'tgr_x', createdAt: 0, updatedAt: 0,
    };
    const o = { plugin: { pluginName: 'tollgate', url: base.url, sha256: DIGEST, failStrategy: 'FAIL_CLOSE' as const }, usage: { cluster: ISTIO_CLUSTER, authority: AT.host, intervalMs: 10_000, timeoutMs: 5_000 } };
    const eg = renderTarget(snapshot as never, target as never, o);
    const config = (eg.resource.spec.wasm as { config: { usage: { cluster: string; authority: string } } }[])[0]!.config;
    assert.equal(config.usage.cluster, 'tollgate/shop/edge');
    assert.equal(config.usage.authority, AT.host, 'the authority stays the Service\'s name');
    assert.deepEqual(eg.companions.map((c) => patchesOf(c)[0]!.name), ['tollgate/shop/edge']);
    const te = renderTarget(snapshot as never, { ...target, kind: 'TrafficExtension', targetRefs: [{ group: '', kind: 'Service', name: 'orders' }] } as never, o);
    assert.equal((te.resource.spec.wasm as { pluginConfig: { usage: { cluster: string } } }).pluginConfig.usage.cluster, ISTIO_CLUSTER);
    assert.deepEqual(te.companions, []);
    // Same inputs, same bytes; and the companions count in what the sinks must be told about.
    assert.equal(renderTarget(snapshot as never, target as never, o).fingerprint, eg.fingerprint);
    assert.notEqual(renderTarget(snapshot as never, { ...target, targetRefs: [gw('other'), route] } as never, o).fingerprint, eg.fingerprint);
    // The compiler itself is unchanged: it writes whatever cluster it is given.
    assert.equal(compile(snapshot as never, { usage: { cluster: 'x', authority: 'a', intervalMs: 1000, timeoutMs: 1000, reportToken: 't' } }).config.usage!.cluster, 'x');
  });
});

describe('the EnvoyPatchPolicies through the service\'s sinks', () => {
  let t: TestApp;
  let kube: FakeKubeApi;
  let root: string;
  let gitops: string;
  const EEP = '/apis/gateway.envoyproxy.io/v1alpha1/namespaces/edge/envoyextensionpolicies/eg';
  const EPP = (i: number): string => `/apis/gateway.envoyproxy.io/v1alpha1/namespaces/edge/envoypatchpolicies/eg-control-${i}`;
  before(async () => {
    root = tempDir();
    gitops = join(root, 'gitops');
    kube = await fakeKubeApi();
    const kubeconfig = join(root, 'kubeconfig');
    writeFileSync(kubeconfig, kube.kubeconfigYaml());
    t = await testApp({
      distribution: [{ kind: 'dir', path: gitops }, { kind: 'kubernetes' }], kubeconfig,
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
  const files = (): string[] => readdirSync(gitops).filter((f) => !f.endsWith('.tmp') && !f.startsWith('wasmplugin-tollgate')).sort();
  const held = (): string[] => [...kube.objects.keys()].filter((p) => p.includes('/namespaces/edge/')).sort();
  const calls = (): string[] => kube.requests.filter((r) => r.path.includes('/namespaces/edge/') && r.method !== 'GET').map((r) => `${r.method} ${r.path}`);

  let id = '';
  it('applies one EnvoyPatchPolicy per Gateway before the EnvoyExtensionPolicy, and writes them to GitOps, each valid for its CRD', async () => {
    const created = await t.admin('POST', '/v1/targets', {
      name: 'eg', namespace: 'edge', kind: 'EnvoyExtensionPolicy',
      targetRefs: [{ group: GW, kind: 'Gateway', name: 'public' }, { group: GW, kind: 'Gateway', name: 'internal' }],
    });
    assert.equal(created.statusCode, 201, created.body);
    id = created.json<{ id: string }>().id;
    await t.app.distributor.flush();
    assert.deepEqual(files(), ['envoyextensionpolicy-eg.yaml', 'envoypatchpolicy-eg-control-0.yaml', 'envoypatchpolicy-eg-control-1.yaml']);
    assert.deepEqual(held(), [EEP, EPP(0), EPP(1)]);
    assert.deepEqual(calls(), [`PATCH ${EPP(0)}`, `PATCH ${EPP(1)}`, `PATCH ${EEP}`], 'the clusters before the filter that calls them');
    for (const r of kube.requests.filter((q) => q.method === 'PATCH' && q.path.includes('envoypatchpolicies'))) {
      assert.equal(r.contentType, 'application/apply-patch+yaml');
      assert.equal(r.query.get('fieldManager'), 'tollgate');
      assert.equal(r.query.get('force'), 'true');
    }
    const eep = parse(readFileSync(join(gitops, 'envoyextensionpolicy-eg.yaml'), 'utf8')) as { spec: { wasm: { config: { usage: { cluster: string } } }[] } };
    const validateEep = compileCrd(EEP_CRD);
    assert.equal(validateEep(eep), true, JSON.stringify(validateEep.errors));
    const cluster = eep.spec.wasm[0]!.config.usage.cluster;
    assert.equal(cluster, 'tollgate/edge/eg');
    for (const [i, gateway] of [[0, 'public'], [1, 'internal']] as const) {
      const epp = parse(readFileSync(join(gitops, `envoypatchpolicy-eg-control-${i}.yaml`), 'utf8')) as CompanionResource;
      assert.deepEqual(eppProblems(epp), []);
      assert.deepEqual(kube.objects.get(EPP(i)), epp, 'the same object in both sinks');
      assert.equal((epp.spec.targetRef as { name: string }).name, gateway);
      const [patch] = patchesOf(epp);
      assert.equal(patch!.name, cluster);
      // The default settings: Istio's outbound cluster name names the control Service.
      assert.deepEqual(patch!.operation.value.load_assignment.endpoints[0]!.lb_endpoints[0]!.endpoint.address.socket_address,
        { address: 'tollgate-control.tollgate.svc.cluster.local', port_value: 7070 });
    }
  });

  it('a Gateway leaving targetRefs: its EnvoyPatchPolicy is withdrawn once the rest is applied', async () => {
    const before = kube.requests.length;
    const patched = await t.admin('PATCH', `/v1/targets/${id}`, { targetRefs: [{ group: GW, kind: 'Gateway', name: 'public' }, { group: GW, kind: 'HTTPRoute', name: 'orders' }] });
    assert.equal(patched.statusCode, 200, patched.body);
    await t.app.distributor.flush();
    assert.deepEqual(files(), ['envoyextensionpolicy-eg.yaml', 'envoypatchpolicy-eg-control-0.yaml']);
    assert.deepEqual(held(), [EEP, EPP(0)]);
    const now = kube.requests.slice(before).filter((r) => r.method !== 'GET').map((r) => `${r.method} ${r.path}`);
    assert.deepEqual(now, [`PATCH ${EPP(0)}`, `PATCH ${EEP}`, `DELETE ${EPP(1)}`]);
  });

  it('a refused withdrawal is retried, and the target\'s status says why until it succeeds', async () => {
    kube.refuseDeletes = true;
    try {
      assert.equal((await t.admin('PATCH', `/v1/targets/${id}`, { targetRefs: [{ group: GW, kind: 'HTTPRoute', name: 'orders' }] })).statusCode, 200);
      await t.app.distributor.flush();
      assert.deepEqual(held(), [EEP, EPP(0)], 'still there: the API server refused');
      const status = (await t.admin('GET', '/v1/distribution')).json<{ targets: { target: string; wasmPlugin: string; error: string | null }[] }>().targets;
      assert.ok(status.find((s) => s.target === 'kubernetes' && s.wasmPlugin === 'edge/eg')!.error !== null);
    } finally {
      kube.refuseDeletes = false;
    }
    await t.app.distributor.distributeNow();
    assert.deepEqual(held(), [EEP]);
    assert.deepEqual(files(), ['envoyextensionpolicy-eg.yaml']);
    const status = (await t.admin('GET', '/v1/distribution')).json<{ targets: { target: string; wasmPlugin: string; error: string | null }[] }>().targets;
    assert.equal(status.find((s) => s.target === 'kubernetes' && s.wasmPlugin === 'edge/eg')!.error, null);
  });

  it('switching kind withdraws the EnvoyExtensionPolicy and its EnvoyPatchPolicies; deleting the target withdraws everything', async () => {
    assert.equal((await t.admin('PATCH', `/v1/targets/${id}`, { targetRefs: [{ group: GW, kind: 'Gateway', name: 'public' }] })).statusCode, 200);
    await t.app.distributor.flush();
    assert.deepEqual(held(), [EEP, EPP(0)]);
    const before = kube.requests.length;
    const switched = await t.admin('PATCH', `/v1/targets/${id}`, { kind: 'TrafficExtension', targetRefs: [{ group: GW, kind: 'Gateway', name: 'public' }] });
    assert.equal(switched.statusCode, 200, switched.body);
    await t.app.distributor.flush();
    const TE = '/apis/extensions.istio.io/v1alpha1/namespaces/edge/trafficextensions/eg';
    assert.deepEqual(kube.requests.slice(before).filter((r) => r.method !== 'GET').map((r) => `${r.method} ${r.path}`), [`DELETE ${EEP}`, `DELETE ${EPP(0)}`, `PATCH ${TE}`]);
    assert.deepEqual(held(), [TE]);
    assert.deepEqual(files(), ['trafficextension-eg.yaml']);
    const te = parse(readFileSync(join(gitops, 'trafficextension-eg.yaml'), 'utf8')) as { spec: { wasm: { pluginConfig: { usage: { cluster: string } } } } };
    assert.equal(te.spec.wasm.pluginConfig.usage.cluster, 'outbound|7070||tollgate-control.tollgate.svc.cluster.local', 'back to Istio\'s cluster');

    assert.equal((await t.admin('PATCH', `/v1/targets/${id}`, { kind: 'EnvoyExtensionPolicy' })).statusCode, 200);
    await t.app.distributor.flush();
    assert.deepEqual(held(), [EEP, EPP(0)]);
    assert.equal((await t.admin('DELETE', `/v1/targets/${id}`)).statusCode, 204);
    await t.app.distributor.flush();
    assert.deepEqual(held(), []);
    assert.deepEqual(files(), []);
  });
});

describe('tollgate render: the EnvoyPatchPolicies too', () => {
  const render = renderCaptured;

  it('prints and writes each target\'s EnvoyPatchPolicies next to its EnvoyExtensionPolicy', async () => {
    const dir = tempDir();
    const db = join(dir, 'tollgate.db');
    try {
      const t = await testApp({ dbPath: db });
      try {
        await seed(t);
        assert.equal((await t.admin('POST', '/v1/targets', { name: 'eg', namespace: 'edge', kind: 'EnvoyExtensionPolicy', targetRefs: [{ group: GW, kind: 'Gateway', name: 'public' }] })).statusCode, 201);
        assert.equal((await t.admin('POST', '/v1/targets', { name: 'routes', namespace: 'shop', kind: 'EnvoyExtensionPolicy', targetRefs: [{ group: GW, kind: 'HTTPRoute', name: 'orders' }] })).statusCode, 201);
      } finally {
        await t.close();
      }
      const image = ['--filter-url', 'oci://registry.example.com/tollgate/filter:1.4.0', '--filter-sha256', DIGEST,
        '--usage-cluster', 'outbound|7443||control.ops.svc.cluster.local'];
      const printed = await render(['--db', db, ...image]);
      assert.equal(printed.code, 0, printed.err);
      const objects = parseAllDocuments(printed.out).map((d) => d.toJS() as CompanionResource);
      const names = objects.map((o) => `${o.kind}/${o.metadata.name}`);
      assert.deepEqual([...names].sort(), ['EnvoyExtensionPolicy/eg', 'EnvoyExtensionPolicy/routes', 'EnvoyPatchPolicy/eg-control-0', 'WasmPlugin/tollgate']);
      // A target on routes only gets no EnvoyPatchPolicy; the CLI says which cluster to add by hand.
      assert.match(printed.err, /target shop\/routes \(EnvoyExtensionPolicy\) names no Gateway: add Envoy cluster tollgate\/shop\/routes to/);
      assert.doesNotMatch(printed.err, /target edge\/eg .*names no Gateway/);
      assert.ok(names.indexOf('EnvoyPatchPolicy/eg-control-0') < names.indexOf('EnvoyExtensionPolicy/eg'), 'the cluster before the policy, as applied');
      const epp = objects.find((o) => o.kind === 'EnvoyPatchPolicy')!;
      assert.deepEqual(eppProblems(epp), []);
      assert.deepEqual(patchesOf(epp)[0]!.operation.value.load_assignment.endpoints[0]!.lb_endpoints[0]!.endpoint.address.socket_address,
        { address: 'control.ops.svc.cluster.local', port_value: 7443 }, 'the address follows TOLLGATE_USAGE_CLUSTER');
      const written = await render(['--db', db, '--out', join(dir, 'out'), ...image]);
      assert.equal(written.code, 0, written.err);
      assert.deepEqual(readdirSync(join(dir, 'out')).sort(), ['envoyextensionpolicy-eg.yaml', 'envoyextensionpolicy-routes.yaml', 'envoypatchpolicy-eg-control-0.yaml', 'wasmplugin-tollgate.yaml']);
      assert.match(written.err, /wrote envoypatchpolicy-eg-control-0\.yaml, envoyextensionpolicy-eg\.yaml/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

async function freePort(): Promise<number> {
  const s = createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe('end to end: the filter reaches the control service through the cluster the EnvoyPatchPolicy adds', () => {
  it('given only the rendered EnvoyPatchPolicy\'s clusters, the real filter pulls keys and reports usage to the real control service', async () => {
    const port = await freePort();
    const dir = tempDir();
    // The control service's address as the EnvoyPatchPolicy will carry it: loopback here, the Service's DNS name in a cluster.
    const t = await testApp({
      distribution: [{ kind: 'dir', path: dir }], filterUrl: 'oci://registry.example.com/tollgate/filter:1.4.0', filterSha256: DIGEST,
      usageCluster: `outbound|${port}||127.0.0.1`, usageAuthority: 'tollgate-control.tollgate.svc.cluster.local',
    });
    let h: Harness | undefined;
    try {
      await t.app.listen({ port, host: '127.0.0.1' });
      await leading(t);
      const s = await seed(t);
      const created = await t.admin('POST', '/v1/targets', { name: 'eg', namespace: 'edge', kind: 'EnvoyExtensionPolicy', targetRefs: [{ group: GW, kind: 'Gateway', name: 'public' }] });
      assert.equal(created.statusCode, 201, created.body);
      const egId = created.json<{ id: string }>().id;
      await t.app.distributor.flush();
      const eep = parse(readFileSync(join(dir, 'envoyextensionpolicy-eg.yaml'), 'utf8')) as { spec: { wasm: { config: { usage: { cluster: string; intervalMs: number }; keyFeed: Record<string, unknown> } }[] } };
      const epp = parse(readFileSync(join(dir, 'envoypatchpolicy-eg-control-0.yaml'), 'utf8')) as CompanionResource;
      // Envoy's clusters on this gateway: exactly what the EnvoyPatchPolicy adds (EG's own route clusters aside).
      const clusters = Object.fromEntries(patchesOf(epp).map((p) => {
        const at = p.operation.value.load_assignment.endpoints[0]!.lb_endpoints[0]!.endpoint.address.socket_address;
        return [p.operation.value.name, { host: at.address, port: at.port_value }];
      }));
      assert.deepEqual(Object.keys(clusters), ['tollgate/edge/eg']);
      const config = eep.spec.wasm[0]!.config;
      // Short polls, so the virtual clock drives the key feed (a held long poll would wait in real time).
      config.keyFeed = { ...config.keyFeed, waitS: 0, retryMs: 500 };
      config.usage.intervalMs = 1000;
      h = await startHost(config, { clusters, workers: 2, startTimeMs: Date.now() });
      for (let i = 0; i < 3; i++) {
        await h.host.advance(1000);
        await h.host.settle();
      }
      const ok = await h.host.request({ method: 'GET', path: '/orders/1', headers: { 'x-api-key': s.key } });
      assert.equal(ok.status, 200, 'the key arrived through the key feed over that cluster');
      const bad = await h.host.request({ method: 'GET', path: '/orders/1', headers: { 'x-api-key': 'tg_nope' } });
      assert.ok([401, 403].includes(bad.status), `an unknown key is refused (${bad.status})`);
      for (let i = 0; i < 3; i++) {
        await h.host.advance(1000);
        await h.host.settle();
      }
      // Usage reports went through the same cluster: the control service knows this proxy, as the eg target, current.
      const fleet = await t.admin('GET', '/v1/fleet');
      assert.equal(fleet.statusCode, 200, fleet.body);
      const nodes = fleet.json<{ items: { target: string; current: boolean; feedFailed: number; flushFailed: number }[] }>().items;
      const mine = nodes.filter((n) => n.target === egId || n.target === 'eg');
      assert.equal(mine.length, 1, fleet.body);
      assert.equal(mine[0]!.current, true, fleet.body);
      assert.deepEqual([mine[0]!.feedFailed, mine[0]!.flushFailed], [0, 0]);
      assert.equal(h.host.stats().vmFailures, 0);
    } finally {
      await t.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
