// Each resource kind renders and validates: WasmPlugin, TrafficExtension and EnvoyExtensionPolicy for every placement
// tollgate offers (sidecar selector, ambient waypoint Service, Gateway, waypoint GatewayClass, ServiceEntry; EEP on a
// Gateway and an HTTPRoute), checked against each CRD's structural schema (Ajv) and its CEL rules (hand-written checks
// named after each rule: no CEL engine is installed; resource-kinds-crd.ts). The placement rules refuse what a kind
// cannot express, and each field maps as docs/deploy.md says.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { stringify } from 'yaml';
import { compile } from '../../control/compiler/compile.js';
import { renderWasmPlugin } from '../../control/distribution/wasmplugin.js';
import { renderResource } from '../../control/distribution/resources/render.js';
import { RenderError, resourceYaml, type RenderedResource, type ResourceOptions } from '../../control/distribution/resources/resource.js';
import { placementProblems } from '../../control/distribution/resources/placement.js';
import { ALLOWED_TARGET_REFS, API_VERSIONS, RESOURCE_KINDS, resourceFileName, wasmPluginOf, type ResourceKind, type TargetRef } from '../../contracts/resources.js';
import { readWasmPlugin, WasmPluginError } from '../../contracts/wasmplugin.js';
import { ResourceKindField } from '../../control/schemas/targets.js';
import { celRules, checkCel, compileCrd, crdSchema } from './resource-kinds-crd.js';

const CRDS: Record<ResourceKind, string> = {
  WasmPlugin: 'istio-wasmplugin-crd.yaml',
  TrafficExtension: 'istio-trafficextension-crd.yaml',
  EnvoyExtensionPolicy: 'envoy-gateway-envoyextensionpolicy-crd.yaml',
};
const validators = Object.fromEntries(RESOURCE_KINDS.map((k) => [k, compileCrd(CRDS[k])])) as Record<ResourceKind, ReturnType<typeof compileCrd>>;
const rules = Object.fromEntries(RESOURCE_KINDS.map((k) => [k, celRules(crdSchema(CRDS[k]))])) as Record<ResourceKind, ReturnType<typeof celRules>>;

/** Schema and CEL: every failure message, empty when the API server would accept the object. */
function problems(resource: RenderedResource): string[] {
  const kind = resource.kind;
  const out: string[] = [];
  if (!validators[kind](resource)) out.push(...validators[kind].errors!.map((e) => `schema ${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`));
  const cel = checkCel(rules[kind], resource);
  out.push(...cel.failed.map((r) => `CEL ${r}`), ...cel.unchecked.map((r) => `CEL rule without a check: ${r}`));
  return out;
}

const DIGEST = '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';
const base: ResourceOptions = {
  name: 'tollgate', namespace: 'shop', pluginName: 'tollgate', url: 'oci://registry.example.com/tollgate/filter:1.4.0',
  sha256: DIGEST, failStrategy: 'FAIL_CLOSE', selector: undefined, targetRefs: undefined,
};
const compiled = compile(
  { apis: [{ id: 'api_orders', name: 'orders', pathPrefix: '/orders', hosts: [], methods: [], createdAt: 0, updatedAt: 0 }], plans: [] } as never,
  { usage: { cluster: 'c', authority: 'a', intervalMs: 1000, timeoutMs: 1000, reportToken: 'tgr_x' } },
);
const render = (kind: ResourceKind, o: Partial<ResourceOptions>): RenderedResource => renderResource(kind, compiled.config, compiled.version, { ...base, ...o });

const GW = 'gateway.networking.k8s.io';
const placements: { what: string; kind: ResourceKind; selector?: Record<string, string>; targetRefs?: TargetRef[] }[] = [
  { what: 'sidecars by selector', kind: 'WasmPlugin', selector: { app: 'orders' } },
  { what: 'sidecars by selector', kind: 'TrafficExtension', selector: { app: 'orders' } },
  { what: 'the whole namespace (no selector)', kind: 'TrafficExtension' },
  { what: 'an ambient waypoint through its Service', kind: 'TrafficExtension', targetRefs: [{ group: '', kind: 'Service', name: 'orders' }] },
  { what: 'an ambient waypoint through its Service', kind: 'WasmPlugin', targetRefs: [{ group: '', kind: 'Service', name: 'orders' }] },
  { what: 'a Gateway (ingress or the waypoint itself)', kind: 'TrafficExtension', targetRefs: [{ group: GW, kind: 'Gateway', name: 'waypoint' }] },
  { what: 'a Gateway', kind: 'WasmPlugin', targetRefs: [{ group: GW, kind: 'Gateway', name: 'public' }] },
  { what: 'every waypoint (GatewayClass istio-waypoint)', kind: 'TrafficExtension', targetRefs: [{ group: GW, kind: 'GatewayClass', name: 'istio-waypoint' }] },
  { what: 'a ServiceEntry', kind: 'TrafficExtension', targetRefs: [{ group: 'networking.istio.io', kind: 'ServiceEntry', name: 'payments-ext' }] },
  { what: 'an Envoy Gateway Gateway', kind: 'EnvoyExtensionPolicy', targetRefs: [{ group: GW, kind: 'Gateway', name: 'public-gw' }] },
  { what: 'an HTTPRoute (one rule)', kind: 'EnvoyExtensionPolicy', targetRefs: [{ group: GW, kind: 'HTTPRoute', name: 'orders', sectionName: 'api' }] },
  { what: 'a GRPCRoute and a listener of a Gateway', kind: 'EnvoyExtensionPolicy', targetRefs: [{ group: GW, kind: 'GRPCRoute', name: 'orders-grpc' }, { group: GW, kind: 'Gateway', name: 'public-gw', sectionName: 'https' }] },
];

describe('every resource kind renders and validates against its CRD', () => {
  for (const p of placements) {
    it(`${p.kind} on ${p.what}`, () => {
      assert.deepEqual(placementProblems({ kind: p.kind, selector: p.selector ?? null, targetRefs: p.targetRefs ?? null }), []);
      for (const extra of [{}, { imagePullSecret: 'tollgate-pull' }, { sha256: undefined, failStrategy: 'FAIL_OPEN' as const }]) {
        const r = render(p.kind, { selector: p.selector, targetRefs: p.targetRefs, ...extra });
        assert.deepEqual(problems(r), []);
        assert.equal(r.apiVersion, API_VERSIONS[p.kind]);
        assert.equal(r.kind, p.kind);
        assert.deepEqual(r.metadata, {
          name: 'tollgate', namespace: 'shop', labels: { 'app.kubernetes.io/managed-by': 'tollgate', 'app.kubernetes.io/name': 'tollgate' },
          annotations: { 'tollgate.dev/config-version': compiled.version },
        });
      }
    });
  }

  it('the CEL rules that apply were evaluated (the checks are not vacuous)', () => {
    const te = checkCel(rules.TrafficExtension, render('TrafficExtension', { selector: { app: 'orders' } }));
    assert.ok(te.applied.includes('spec only one of targetRefs or selector can be set'));
    assert.ok(te.applied.includes('spec exactly one of wasm or lua must be set'));
    assert.ok(te.applied.includes('spec/wasm/url url must have schema one of [http, https, file, oci]'));
    assert.ok(te.applied.includes('spec/selector/matchLabels/{} wildcard not allowed in label value match'));
    const eep = checkCel(rules.EnvoyExtensionPolicy, render('EnvoyExtensionPolicy', { targetRefs: [{ group: GW, kind: 'Gateway', name: 'g' }], imagePullSecret: 's' }));
    for (const rule of ['spec either targetRef or targetRefs must be used', 'spec/wasm/[]/code If type is Image, image field needs to be set.',
      'spec/wasm/[]/code/image/pullSecretRef only support Secret kind.', 'spec this policy can only have a targetRefs[*].kind of Gateway/ListenerSet/HTTPRoute/GRPCRoute/TCPRoute/UDPRoute/TLSRoute']) {
      assert.ok(eep.applied.includes(rule), rule);
    }
  });

  it('the validation catches what the API server would refuse or prune', () => {
    const te = render('TrafficExtension', { selector: { app: 'orders' } });
    const bad: [RenderedResource, RegExp][] = [
      [{ ...te, spec: { ...te.spec, wasm: { ...(te.spec.wasm as object), sha256: 'sha256:abc' } } }, /schema \/spec\/wasm\/sha256/],
      [{ ...te, spec: { ...te.spec, targetRefs: [{ kind: 'Service', name: 'x' }] } }, /CEL spec only one of targetRefs or selector/],
      [{ ...te, spec: { ...te.spec, phase: 'UNSPECIFIED_PHASE' } }, /schema \/spec\/phase/],
      [{ ...te, spec: { ...te.spec, url: 'oci://x' } }, /additional properties {"additionalProperty":"url"}/],
      [{ ...te, spec: { ...te.spec, wasm: { ...(te.spec.wasm as object), url: 'ftp://x/y' } } }, /CEL spec\/wasm\/url/],
      [{ ...te, spec: { ...te.spec, lua: { inlineCode: 'x' } } }, /exactly one of wasm or lua/],
      [{ ...te, spec: { ...te.spec, targetRefs: [{ kind: 'Service', name: 'x', namespace: 'other' }], selector: undefined } }, /cross namespace/],
    ];
    const eep = render('EnvoyExtensionPolicy', { targetRefs: [{ group: GW, kind: 'Gateway', name: 'g' }] });
    const wasm = (eep.spec.wasm as Record<string, unknown>[])[0]!;
    bad.push(
      [{ ...eep, spec: { ...eep.spec, targetRefs: [{ group: '', kind: 'Service', name: 'x' }] } }, /targetRefs\[\*\]\.group/],
      [{ ...eep, spec: { wasm: eep.spec.wasm } }, /either targetRef or targetRefs/],
      [{ ...eep, spec: { ...eep.spec, wasm: [{ ...wasm, code: { type: 'Image', http: { url: 'https://x' } } }] } }, /If type is Image/],
      [{ ...eep, spec: { ...eep.spec, wasm: [{ ...wasm, code: { type: 'ConfigMap', image: { url: 'x' } } }] } }, /schema \/spec\/wasm\/0\/code\/type/],
      [{ ...eep, spec: { ...eep.spec, wasm: [{ ...wasm, failOpen: 'no' }] } }, /schema \/spec\/wasm\/0\/failOpen/],
      [{ ...eep, spec: { ...eep.spec, mergeType: 'StrategicMerge' } }, /mergeType can only be used with xRoute targets/],
    );
    // A rule on a field the checks do not cover is reported, not passed silently.
    bad.push([{ ...eep, spec: { ...eep.spec, lua: [{ type: 'Inline', inline: 'x' }] } }, /CEL rule without a check: spec\/lua\/\[\]/]);
    for (const [object, why] of bad) {
      const found = problems(object);
      assert.ok(found.some((p) => why.test(p)), `${why}: ${JSON.stringify(found)}`);
    }
  });
});

describe('WasmPlugin: unchanged by resource kinds', () => {
  it('renders the same spec, field for field and in the same order, as before kinds existed', () => {
    const sidecar = renderWasmPlugin(compiled.config, compiled.version, { ...base, selector: { app: 'orders' } });
    assert.deepEqual(Object.keys(sidecar.spec), ['url', 'sha256', 'imagePullPolicy', 'pluginName', 'phase', 'failStrategy', 'selector', 'match', 'pluginConfig']);
    const { pluginConfig, ...rest } = sidecar.spec;
    assert.equal(stringify(rest, { lineWidth: 0 }), [
      'url: oci://registry.example.com/tollgate/filter:1.4.0', `sha256: ${DIGEST}`, 'imagePullPolicy: IfNotPresent', 'pluginName: tollgate',
      'phase: AUTHN', 'failStrategy: FAIL_CLOSE', 'selector:', '  matchLabels:', '    app: orders', 'match:', '  - mode: SERVER', '',
    ].join('\n'));
    assert.deepEqual(pluginConfig, compiled.config);
    const gateway = renderWasmPlugin(compiled.config, compiled.version, { ...base, sha256: undefined, targetRefs: [{ group: GW, kind: 'Gateway', name: 'public' }] });
    assert.deepEqual(Object.keys(gateway.spec), ['url', 'imagePullPolicy', 'pluginName', 'phase', 'failStrategy', 'targetRefs', 'pluginConfig']);
    assert.equal(resourceYaml(sidecar), resourceYaml(renderResource('WasmPlugin', compiled.config, compiled.version, { ...base, selector: { app: 'orders' } })));
    assert.equal(resourceFileName('WasmPlugin', 'tollgate'), 'wasmplugin-tollgate.yaml', 'the GitOps file name as before');
  });
});

describe('TrafficExtension field mapping', () => {
  it('puts the Wasm fields under spec.wasm: url, digest, pull policy and secret, plugin name, fail strategy, HTTP type, plugin configuration', () => {
    const te = render('TrafficExtension', { selector: { app: 'orders' }, imagePullSecret: 'tollgate-pull', failStrategy: 'FAIL_RELOAD' });
    assert.deepEqual(te.spec.selector, { matchLabels: { app: 'orders' } });
    assert.equal(te.spec.phase, 'AUTHN');
    assert.equal('priority' in te.spec, false, 'no priority, as the WasmPlugin: both sort alike');
    assert.deepEqual(te.spec.wasm, {
      url: base.url, sha256: DIGEST, imagePullPolicy: 'IfNotPresent', imagePullSecret: 'tollgate-pull', pluginName: 'tollgate',
      failStrategy: 'FAIL_RELOAD', type: 'HTTP', pluginConfig: compiled.config,
    });
  });

  it('matches inbound traffic on sidecars only; on a waypoint or gateway (targetRefs) it sets no match at all', () => {
    assert.deepEqual(render('TrafficExtension', { selector: { app: 'orders' } }).spec.match, [{ mode: 'SERVER' }]);
    assert.deepEqual(render('TrafficExtension', {}).spec.match, [{ mode: 'SERVER' }]);
    for (const ref of [{ group: '', kind: 'Service', name: 'orders' }, { group: GW, kind: 'Gateway', name: 'waypoint' }]) {
      const te = render('TrafficExtension', { targetRefs: [ref] });
      assert.equal('match' in te.spec, false);
      assert.equal('selector' in te.spec, false);
      assert.deepEqual(te.spec.targetRefs, [ref]);
    }
  });
});

describe('EnvoyExtensionPolicy field mapping', () => {
  const refs = [{ group: GW, kind: 'HTTPRoute', name: 'orders', sectionName: 'api' }];
  it('an OCI image: the url without oci://, with its tag; sha256 = the manifest digest; pullSecretRef; rootID; config as an object', () => {
    const eep = render('EnvoyExtensionPolicy', { targetRefs: refs, imagePullSecret: 'tollgate-pull' });
    assert.deepEqual(eep.spec.targetRefs, refs);
    assert.deepEqual(eep.spec.wasm, [{
      name: 'tollgate', rootID: 'tollgate',
      code: { type: 'Image', image: { url: 'registry.example.com/tollgate/filter:1.4.0', sha256: DIGEST, pullSecretRef: { group: '', kind: 'Secret', name: 'tollgate-pull' } }, pullPolicy: 'IfNotPresent' },
      failOpen: false,
      config: compiled.config,
    }]);
    // Integers stay integers in the raw JSON EG hands the filter (the API server's JSON, not a protobuf Struct).
    const config = (eep.spec.wasm as { config: { usage: { intervalMs: number } } }[])[0]!.config;
    assert.equal(JSON.stringify(config.usage.intervalMs), '1000');
  });

  it('failOpen only for FAIL_OPEN (FAIL_RELOAD has no Envoy Gateway equivalent and stays closed)', () => {
    const failOpen = (s: ResourceOptions['failStrategy']): unknown => (render('EnvoyExtensionPolicy', { targetRefs: refs, failStrategy: s }).spec.wasm as { failOpen: unknown }[])[0]!.failOpen;
    assert.deepEqual([failOpen('FAIL_CLOSE'), failOpen('FAIL_OPEN'), failOpen('FAIL_RELOAD')], [false, true, false]);
  });

  it('an https url: code type HTTP with the module digest; a file:// url cannot be fetched by the EG controller', () => {
    const eep = render('EnvoyExtensionPolicy', { targetRefs: refs, url: 'https://files.example.com/tollgate.wasm' });
    assert.deepEqual((eep.spec.wasm as { code: unknown }[])[0]!.code, { type: 'HTTP', http: { url: 'https://files.example.com/tollgate.wasm', sha256: DIGEST } });
    assert.deepEqual(problems(eep), []);
    assert.throws(() => render('EnvoyExtensionPolicy', { targetRefs: refs, url: 'file:///var/lib/tollgate.wasm' }), RenderError);
    assert.throws(() => render('EnvoyExtensionPolicy', { selector: { app: 'x' } }), RenderError, 'no selector on an EEP');
    assert.throws(() => render('EnvoyExtensionPolicy', {}), RenderError, 'no targetRefs');
  });

  it('a bare registry/repo:tag (no scheme) is an image as well', () => {
    const eep = render('EnvoyExtensionPolicy', { targetRefs: refs, url: 'registry.example.com/tollgate/filter:1.4.0', sha256: undefined });
    assert.deepEqual((eep.spec.wasm as { code: { image: unknown } }[])[0]!.code.image, { url: 'registry.example.com/tollgate/filter:1.4.0' });
    assert.deepEqual(problems(eep), []);
  });
});

describe('the three kinds carry the same plugin', () => {
  it('read back through the one WasmPlugin reader, every kind gives what the WasmPlugin gives: url, digest, root id, failure policy, configuration bytes', () => {
    const refs = { TrafficExtension: [{ group: '', kind: 'Service', name: 'orders' }], EnvoyExtensionPolicy: [{ group: GW, kind: 'Gateway', name: 'g' }], WasmPlugin: undefined };
    for (const o of [{}, { sha256: undefined, failStrategy: 'FAIL_OPEN' as const }, { url: 'https://files.example.com/tollgate.wasm' }]) {
      const expected = readWasmPlugin(renderWasmPlugin(compiled.config, compiled.version, { ...base, ...o }));
      for (const kind of RESOURCE_KINDS) {
        const plan = readWasmPlugin(wasmPluginOf(render(kind, { ...o, targetRefs: refs[kind] })));
        assert.deepEqual(plan, expected, `${kind} ${JSON.stringify(o)}`);
      }
    }
    // FAIL_RELOAD has no Envoy Gateway equivalent: it reads back as FAIL_CLOSE there (docs/deploy.md).
    const reload = readWasmPlugin(wasmPluginOf(render('EnvoyExtensionPolicy', { failStrategy: 'FAIL_RELOAD', targetRefs: refs.EnvoyExtensionPolicy })));
    assert.equal(reload.failStrategy, 'FAIL_CLOSE');
  });

  it('the reader still refuses what it cannot honour, whatever the kind it came as', () => {
    const te = render('TrafficExtension', { selector: { app: 'x' } }) as RenderedResource & { spec: { wasm: Record<string, unknown> } };
    assert.throws(() => readWasmPlugin(wasmPluginOf({ ...te, spec: { ...te.spec, wasm: { ...te.spec.wasm, type: 'NETWORK' } } })), WasmPluginError);
    assert.throws(() => readWasmPlugin(wasmPluginOf({ kind: 'EnvoyExtensionPolicy', spec: { wasm: [] } })), /spec.url is required/);
    assert.throws(() => readWasmPlugin(wasmPluginOf({ kind: 'Deployment', spec: {} })), /expected kind WasmPlugin/);
  });
});

describe('placement rules per kind', () => {
  const svc = { group: '', kind: 'Service', name: 'orders' };
  const route = { group: GW, kind: 'HTTPRoute', name: 'orders' };
  const cases: [string, Parameters<typeof placementProblems>[0], RegExp][] = [
    ['selector and targetRefs', { kind: 'TrafficExtension', selector: { app: 'x' }, targetRefs: [svc] }, /set at most one/],
    ['selector on an EEP', { kind: 'EnvoyExtensionPolicy', selector: { app: 'x' }, targetRefs: null }, /has no workload selector/],
    ['an EEP without targetRefs', { kind: 'EnvoyExtensionPolicy', selector: null, targetRefs: null }, /needs at least one/],
    ['a Service on an EEP', { kind: 'EnvoyExtensionPolicy', selector: null, targetRefs: [svc] }, /cannot be targeted by a EnvoyExtensionPolicy/],
    ['an HTTPRoute on a TrafficExtension', { kind: 'TrafficExtension', selector: null, targetRefs: [route] }, /cannot be targeted by a TrafficExtension/],
    ['an HTTPRoute on a WasmPlugin', { kind: 'WasmPlugin', selector: null, targetRefs: [route] }, /cannot be targeted by a WasmPlugin/],
    ['a Service in the wrong group', { kind: 'TrafficExtension', selector: null, targetRefs: [{ group: 'core', kind: 'Service', name: 'x' }] }, /cannot be targeted/],
    ['sectionName on a TrafficExtension', { kind: 'TrafficExtension', selector: null, targetRefs: [{ group: GW, kind: 'Gateway', name: 'g', sectionName: 'http' }] }, /has no sectionName/],
    ['another GatewayClass', { kind: 'TrafficExtension', selector: null, targetRefs: [{ group: GW, kind: 'GatewayClass', name: 'istio' }] }, /only GatewayClass/],
    ['17 targetRefs', { kind: 'TrafficExtension', selector: null, targetRefs: Array.from({ length: 17 }, (_, i) => ({ ...svc, name: `s${i}` })) }, /at most 16/],
    ['a reference twice', { kind: 'EnvoyExtensionPolicy', selector: null, targetRefs: [route, route] }, /listed twice/],
    ['an empty list', { kind: 'TrafficExtension', selector: null, targetRefs: [] }, /at least one, or null/],
  ];
  for (const [what, placement, why] of cases) {
    it(`refuses ${what}`, () => {
      const found = placementProblems(placement);
      assert.ok(found.some((p) => why.test(p)), JSON.stringify(found));
    });
  }

  it('the REST schema and the contract list the same kinds, and every allowed reference renders valid', () => {
    assert.deepEqual(ResourceKindField.anyOf.map((l: { const: string }) => l.const), [...RESOURCE_KINDS]);
    for (const kind of RESOURCE_KINDS) {
      for (const a of ALLOWED_TARGET_REFS[kind]) {
        const ref = { ...a, name: a.kind === 'GatewayClass' ? 'istio-waypoint' : 'x' };
        assert.deepEqual(placementProblems({ kind, selector: null, targetRefs: [ref] }), [], `${kind} → ${a.kind}`);
        assert.deepEqual(problems(render(kind, { targetRefs: [ref] })), [], `${kind} → ${a.kind}`);
      }
    }
  });
});
