// The Kubernetes/Istio manifests: they parse, kustomize lists exactly them, the WasmPlugin fits Istio's CRD and our
// filter-config schema, and names, labels, ports, namespaces and env agree across the objects.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { test } from 'node:test';
import { Ajv } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { ObjectSerializer } from '@kubernetes/client-node/dist/gen/models/ObjectSerializer.js';
import { parse } from 'yaml';
import { findOne, loadObjects, manifestFiles, parseFile, type K8sObject } from './load-manifests.js';

const root = new URL('../../', import.meta.url).pathname;
const objects = loadObjects();

// Loosely typed views of the objects the checks walk through.
/* eslint-disable @typescript-eslint/no-explicit-any */
const deployment = findOne(objects, 'Deployment', 'tollgate-control') as any;
const service = findOne(objects, 'Service', 'tollgate-control') as any;
const wasmPlugin = findOne(objects, 'WasmPlugin') as any;
/* eslint-enable @typescript-eslint/no-explicit-any */
const container = deployment.spec.template.spec.containers[0];
const env = Object.fromEntries((container.env as { name: string; value?: string }[]).map((e) => [e.name, e.value]));
const envFrom = Object.fromEntries((container.env as { name: string; valueFrom?: unknown }[]).map((e) => [e.name, e.valueFrom]));

const NAMESPACED_KINDS = new Set(['Deployment', 'Service', 'ServiceAccount', 'Role', 'RoleBinding', 'PersistentVolumeClaim', 'PodDisruptionBudget', 'WasmPlugin', 'PeerAuthentication', 'AuthorizationPolicy']);

test('every manifest parses and every object has apiVersion, kind, name, and a namespace when namespaced', () => {
  assert.ok(objects.length >= 10, `only ${objects.length} objects`);
  for (const { file, object } of objects) {
    assert.equal(typeof object.apiVersion, 'string', file);
    assert.equal(typeof object.kind, 'string', file);
    assert.match(object.metadata?.name ?? '', /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, `${file}: ${object.kind}`);
    if (NAMESPACED_KINDS.has(object.kind)) assert.ok(object.metadata.namespace, `${file}: ${object.kind} ${object.metadata.name} has no namespace`);
  }
  const keys = objects.map(({ object: o }) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`);
  assert.equal(new Set(keys).size, keys.length, 'duplicate objects');
});

test('kustomization lists every manifest file, each once, and nothing that does not exist', () => {
  const [kustomization] = parseFile('kustomization.yaml') as [{ kind: string; resources: string[] }];
  assert.equal(kustomization.kind, 'Kustomization');
  const others = manifestFiles().filter((f) => f !== 'kustomization.yaml');
  assert.deepEqual([...kustomization.resources].sort(), others);
  assert.equal(new Set(kustomization.resources).size, kustomization.resources.length);
});

test('the namespaces used are created by namespace.yaml', () => {
  const namespaces = new Set(objects.filter((o) => o.object.kind === 'Namespace').map((o) => o.object.metadata.name));
  for (const { object } of objects) if (object.metadata.namespace !== undefined) assert.ok(namespaces.has(object.metadata.namespace), `${object.kind} ${object.metadata.name}`);
  for (const ns of objects.filter((o) => o.object.kind === 'Namespace')) assert.equal(ns.object.metadata.labels?.['istio-injection'], 'enabled');
});

// Kubernetes' own models: a round trip through them drops any field the API does not know (a typo such as
// `readOnlyRootFileSystem`, or a field at the wrong level), so the result must equal the original.
const CORE_MODELS: Record<string, string> = {
  Namespace: 'V1Namespace', ServiceAccount: 'V1ServiceAccount', Role: 'V1Role', RoleBinding: 'V1RoleBinding',
  Deployment: 'V1Deployment', Service: 'V1Service', PodDisruptionBudget: 'V1PodDisruptionBudget',
};

/** Through the model and back, as plain JSON (the serializer leaves absent fields as undefined). */
function roundTrip(object: unknown, model: string): unknown {
  return JSON.parse(JSON.stringify(ObjectSerializer.serialize(ObjectSerializer.deserialize(object, model, ''), model, ''))) as unknown;
}

test('core objects contain only fields the Kubernetes API defines', () => {
  const core = objects.filter((o) => CORE_MODELS[o.object.kind] !== undefined);
  assert.equal(new Set(core.map((o) => o.object.kind)).size, Object.keys(CORE_MODELS).length);
  for (const { file, object } of core) {
    const model = CORE_MODELS[object.kind] as string;
    assert.deepEqual(roundTrip(object, model), object, `${file}: ${object.kind} ${object.metadata.name} has fields ${model} does not define`);
  }
  // The check bites: a misspelled field is noticed.
  const typo = structuredClone(deployment);
  typo.spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem = true;
  assert.notDeepEqual(roundTrip(typo, 'V1Deployment'), typo);
});

/** The CRD schema as plain JSON Schema: drop the Kubernetes extensions ajv does not know. */
function crdSchema(): object {
  const crd = parse(readFileSync(`${root}schemas/istio-wasmplugin-crd.yaml`, 'utf8')) as { spec: { versions: { schema: { openAPIV3Schema: object } }[] } };
  const strip = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(strip);
    if (typeof node !== 'object' || node === null) return node;
    return Object.fromEntries(Object.entries(node).filter(([k]) => !k.startsWith('x-kubernetes-')).map(([k, v]) => [k, strip(v)]));
  };
  return strip(crd.spec.versions[0]?.schema.openAPIV3Schema) as object;
}

test('the WasmPlugin satisfies the Istio CRD schema, and the CEL rule (at most one of selector/targetRef/targetRefs)', () => {
  const validate = new Ajv({ strict: false, allErrors: true }).compile(crdSchema());
  assert.ok(validate({ ...wasmPlugin }), JSON.stringify(validate.errors, null, 2));
  const binders = ['selector', 'targetRef', 'targetRefs'].filter((f) => wasmPlugin.spec[f] !== undefined);
  assert.deepEqual(binders, ['selector']);
  // The schema itself catches mistakes: a prefixed sha256 and an unknown phase are refused.
  assert.equal(validate({ ...wasmPlugin, spec: { ...wasmPlugin.spec, sha256: `sha256:${'0'.repeat(64)}` } }), false);
  assert.equal(validate({ ...wasmPlugin, spec: { ...wasmPlugin.spec, phase: 'FIRST' } }), false);
});

test('the WasmPlugin pluginConfig is a valid version-1 filter configuration', () => {
  const schema = JSON.parse(readFileSync(`${root}schemas/filter-config.v1.schema.json`, 'utf8')) as object;
  const validate = new Ajv2020({ allErrors: true }).compile(schema);
  assert.ok(validate(wasmPlugin.spec.pluginConfig), JSON.stringify(validate.errors, null, 2));
  // Plaintext keys never appear: each key record starts with a 43-char SHA-256 digest.
  for (const record of wasmPlugin.spec.pluginConfig.keys as unknown[][]) assert.match(String(record[0]), /^[A-Za-z0-9_-]{43}$/);
  assert.equal(validate({ ...wasmPlugin.spec.pluginConfig, version: 2 }), false);
});

test('the WasmPlugin is an oci:// image pinned by a syntactically valid manifest digest, applied on the server side only', () => {
  assert.match(wasmPlugin.spec.url, /^oci:\/\/[a-z0-9.-]+(:\d+)?\/[a-z0-9/._-]+:[A-Za-z0-9._-]+$/);
  assert.match(wasmPlugin.spec.sha256, /^[a-f0-9]{64}$/);
  assert.deepEqual(wasmPlugin.spec.match, [{ mode: 'SERVER' }]);
  assert.equal(wasmPlugin.spec.pluginName, 'tollgate');
});

test('Service selects the Deployment pods and targets the container port the service listens on', () => {
  const podLabels = deployment.spec.template.metadata.labels as Record<string, string>;
  for (const [k, v] of Object.entries(service.spec.selector as Record<string, string>)) assert.equal(podLabels[k], v, k);
  for (const [k, v] of Object.entries(deployment.spec.selector.matchLabels as Record<string, string>)) assert.equal(podLabels[k], v, k);
  assert.equal(service.metadata.namespace, deployment.metadata.namespace);
  const [port] = service.spec.ports as { name: string; port: number; targetPort: string | number; appProtocol?: string }[];
  assert.ok(port !== undefined);
  const containerPort = (container.ports as { name: string; containerPort: number }[]).find((p) => p.name === port.targetPort || p.containerPort === port.targetPort);
  assert.ok(containerPort !== undefined, 'Service targetPort names no container port');
  assert.equal(String(containerPort.containerPort), env.TOLLGATE_CONTROL_PORT);
  // Istio picks the protocol from the port name / appProtocol: it must be HTTP for AuthorizationPolicy paths.
  assert.equal(port.appProtocol, 'http');
});

test('usage reports go to the Service: cluster outbound|<port>||<svc>.<ns>.svc.cluster.local, in WasmPlugin and env', () => {
  const [port] = service.spec.ports as { port: number }[];
  const fqdn = `${service.metadata.name}.${service.metadata.namespace}.svc.cluster.local`;
  const cluster = `outbound|${port?.port}||${fqdn}`;
  assert.equal(wasmPlugin.spec.pluginConfig.usage.cluster, cluster);
  assert.equal(wasmPlugin.spec.pluginConfig.usage.authority, fqdn);
  assert.equal(wasmPlugin.spec.pluginConfig.usage.path, '/v1/usage/reports');
  assert.equal(env.TOLLGATE_USAGE_CLUSTER, cluster);
  assert.equal(env.TOLLGATE_USAGE_AUTHORITY, fqdn);
});

test('the control service manages the example WasmPlugin: same namespace, selector, image and digest', () => {
  assert.equal(env.TOLLGATE_DISTRIBUTION, 'kubernetes');
  assert.equal(env.TOLLGATE_NAMESPACE, wasmPlugin.metadata.namespace);
  assert.equal(wasmPlugin.metadata.name, 'tollgate'); // TOLLGATE_WASMPLUGIN_NAME's default
  const selector = Object.entries(wasmPlugin.spec.selector.matchLabels as Record<string, string>).map(([k, v]) => `${k}=${v}`).join(',');
  assert.equal(env.TOLLGATE_SELECTOR, selector);
  assert.equal(env.TOLLGATE_FILTER_URL, wasmPlugin.spec.url);
  assert.equal(env.TOLLGATE_FILTER_SHA256, wasmPlugin.spec.sha256);
  for (const name of ['TOLLGATE_ADMIN_TOKEN', 'TOLLGATE_REPORT_TOKEN']) {
    assert.equal(env[name], undefined, `${name} must not be a literal`);
    assert.equal((envFrom[name] as { secretKeyRef?: { name: string } })?.secretKeyRef?.name, 'tollgate-tokens', name);
  }
});

test('Deployment runs non-root on a read-only root filesystem with /tmp on a volume', () => {
  const pod = deployment.spec.template.spec;
  assert.equal(pod.securityContext.runAsNonRoot, true);
  assert.ok(pod.securityContext.runAsUser > 0);
  assert.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault');
  assert.equal(container.securityContext.readOnlyRootFilesystem, true);
  assert.equal(container.securityContext.allowPrivilegeEscalation, false);
  assert.deepEqual(container.securityContext.capabilities.drop, ['ALL']);
  assert.ok(container.resources.requests.cpu && container.resources.requests.memory && container.resources.limits.memory);
  const mounts = Object.fromEntries((container.volumeMounts as { name: string; mountPath: string }[]).map((m) => [m.mountPath, m.name]));
  const volumes = Object.fromEntries((pod.volumes as { name: string; emptyDir?: object }[]).map((v) => [v.name, v]));
  assert.ok(volumes[mounts['/tmp'] ?? '']?.emptyDir !== undefined, '/tmp is not an emptyDir');
  assert.equal(pod.serviceAccountName, findOne(objects, 'ServiceAccount').metadata.name);
});

test('three replicas on PostgreSQL: the URL read from a Secret file, spread over nodes, at most one down at a time', () => {
  const pod = deployment.spec.template.spec;
  assert.equal(deployment.spec.replicas, 3);
  assert.equal(deployment.spec.strategy.type, 'RollingUpdate');
  assert.equal(deployment.spec.strategy.rollingUpdate.maxUnavailable, 1);
  // The URL (with its password) is neither a literal nor an environment variable: a file from the Secret.
  assert.equal(env.TOLLGATE_DB, undefined);
  assert.equal(envFrom.TOLLGATE_DB, undefined);
  const file = env.TOLLGATE_DB_FILE ?? '';
  const mount = (container.volumeMounts as { name: string; mountPath: string; readOnly?: boolean }[]).find((m) => file.startsWith(`${m.mountPath}/`));
  assert.ok(mount?.readOnly, `${file} is on a read-only mount`);
  const volume = (pod.volumes as { name: string; secret?: { secretName: string; items: { key: string; path: string }[] } }[]).find((v) => v.name === mount!.name);
  assert.equal(volume?.secret?.secretName, 'tollgate-db');
  assert.deepEqual(volume?.secret?.items.map((i) => `${mount!.mountPath}/${i.path}`), [file]);
  // Anti-affinity on the pods' own labels, per node.
  const term = pod.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm;
  assert.equal(term.topologyKey, 'kubernetes.io/hostname');
  assert.deepEqual(term.labelSelector.matchLabels, deployment.spec.selector.matchLabels);
  const pdb = findOne(objects, 'PodDisruptionBudget', 'tollgate-control') as any; // eslint-disable-line @typescript-eslint/no-explicit-any
  assert.equal(pdb.metadata.namespace, deployment.metadata.namespace);
  assert.deepEqual(pdb.spec.selector.matchLabels, deployment.spec.selector.matchLabels);
  assert.equal(pdb.spec.maxUnavailable, 1);
  // Readiness is /readyz, which answers 503 while the store (the database) does not (tested below and in the REST suite).
  assert.equal(container.readinessProbe.httpGet.path, '/readyz');
});

test('the SQLite overlay patches the base into one replica on a volume (applying its JSON patch)', () => {
  const overlay = new URL('../../manifests/overlays/sqlite/', import.meta.url).pathname;
  const kustomization = parse(readFileSync(`${overlay}kustomization.yaml`, 'utf8')) as { resources: string[]; patches: { path: string; target: { kind: string; name: string } }[] };
  assert.deepEqual(kustomization.resources, ['../../', 'pvc.yaml']);
  const patch = JSON.parse(readFileSync(`${overlay}${kustomization.patches[0]!.path}`, 'utf8')) as { op: string; path: string; value: unknown }[];
  const patched = applyJsonPatch(structuredClone(deployment), patch);
  assert.equal(patched.spec.replicas, 1);
  assert.equal(patched.spec.strategy.type, 'Recreate');
  const penv = Object.fromEntries((patched.spec.template.spec.containers[0].env as { name: string; value?: string }[]).map((e) => [e.name, e.value]));
  assert.equal(penv.TOLLGATE_DB, '/var/lib/tollgate/tollgate.db');
  assert.equal(penv.TOLLGATE_DB_FILE, undefined);
  const mounts = Object.fromEntries((patched.spec.template.spec.containers[0].volumeMounts as { name: string; mountPath: string }[]).map((m) => [m.mountPath, m.name]));
  const volume = (patched.spec.template.spec.volumes as { name: string; persistentVolumeClaim?: { claimName: string } }[]).find((v) => v.name === mounts[dirname(penv.TOLLGATE_DB!)]);
  const [claim] = parseAllDocumentsOf(`${overlay}pvc.yaml`);
  assert.deepEqual(roundTrip(claim, 'V1PersistentVolumeClaim'), claim);
  assert.equal(volume?.persistentVolumeClaim?.claimName, claim.metadata.name);
  assert.equal(claim.metadata.namespace, deployment.metadata.namespace);
  assert.deepEqual(claim.spec.accessModes, ['ReadWriteOnce']);
  // Still a valid Deployment for the Kubernetes models.
  assert.equal(ObjectSerializer.deserialize(patched, 'V1Deployment', '').spec.replicas, 1);
});

/** RFC 6902 test/replace/add/remove over JSON pointers: what kustomize does with a JSON patch. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function applyJsonPatch(doc: any, ops: { op: string; path: string; value?: unknown }[]): any {
  for (const { op, path, value } of ops) {
    const parts = path.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = parts.pop()!;
    const parent = parts.reduce((o, k) => o[k], doc);
    if (op === 'test') assert.deepEqual(parent[last], value, `test ${path}`);
    else if (op === 'replace') {
      assert.ok(last in parent, `replace ${path}: missing`);
      parent[last] = value;
    } else if (op === 'add' && Array.isArray(parent)) parent.splice(last === '-' ? parent.length : Number(last), 0, value);
    else if (op === 'add') parent[last] = value;
    else if (op === 'remove' && Array.isArray(parent)) parent.splice(Number(last), 1);
    else if (op === 'remove') delete parent[last];
    else assert.fail(`unsupported op ${op}`);
  }
  return doc;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function parseAllDocumentsOf(path: string): any[] {
  return readFileSync(path, 'utf8').split(/^---$/m).map((d) => parse(d)).filter((d) => d !== null);
}

test('probes use the container port and paths the control service serves', async () => {
  const { buildApp } = await import('../../control/app.js');
  const { defaultSettings } = await import('../../control/settings.js');
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(`${tmpdir()}/tollgate-probe-`);
  const app = await buildApp({ ...defaultSettings(dir), dbPath: `${dir}/t.db`, adminToken: 'a'.repeat(40), reportToken: 'r'.repeat(40), logLevel: 'silent' }, { announceAdminToken: () => {} });
  try {
    await app.ready();
    const probes = ['startupProbe', 'livenessProbe', 'readinessProbe'].map((p) => container[p].httpGet as { path: string; port: string });
    for (const probe of probes) {
      assert.equal(probe.port, 'http');
      const response = await app.inject({ method: 'GET', url: probe.path });
      assert.equal(response.statusCode, 200, `${probe.path}: ${response.body}`);
    }
    assert.deepEqual([...new Set(probes.map((p) => p.path))].sort(), ['/healthz', '/readyz']);
    // The paths the AuthorizationPolicy opens to the mesh are real routes too.
    for (const url of ['/v1/usage/reports', '/v1/distribution/acks']) assert.ok(app.hasRoute({ method: 'POST', url }), url);
  } finally {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('RBAC: a namespaced Role in the WasmPlugin namespace granting only WasmPlugin writes to the control service account', () => {
  assert.equal(objects.filter((o) => o.object.kind.startsWith('Cluster')).length, 0, 'no cluster-wide RBAC');
  const role = findOne(objects, 'Role') as K8sObject & { rules: { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] }[] };
  assert.equal(role.metadata.namespace, wasmPlugin.metadata.namespace);
  for (const rule of role.rules) {
    assert.deepEqual(rule.apiGroups, ['extensions.istio.io']);
    assert.deepEqual(rule.resources, ['wasmplugins']);
    for (const verb of rule.verbs) assert.ok(['get', 'create', 'patch', 'delete'].includes(verb), verb);
    // Everything but create (which RBAC cannot restrict by name) is limited to the one WasmPlugin.
    if (!(rule.verbs.length === 1 && rule.verbs[0] === 'create')) assert.deepEqual(rule.resourceNames, [wasmPlugin.metadata.name]);
  }
  const binding = findOne(objects, 'RoleBinding') as K8sObject & { roleRef: { kind: string; name: string }; subjects: { kind: string; name: string; namespace: string }[] };
  assert.equal(binding.metadata.namespace, role.metadata.namespace);
  assert.deepEqual(binding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role.metadata.name });
  assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: deployment.spec.template.spec.serviceAccountName, namespace: deployment.metadata.namespace }]);
});

test('mesh security: STRICT mTLS for the control namespace; reports only from managed namespaces; admin only from operators', () => {
  const peer = findOne(objects, 'PeerAuthentication') as K8sObject & { spec: { mtls: { mode: string }; selector?: unknown } };
  assert.equal(peer.metadata.namespace, deployment.metadata.namespace);
  assert.equal(peer.spec.mtls.mode, 'STRICT');
  type Rule = { from: { source: { namespaces?: string[]; principals?: string[] } }[]; to: { operation: { methods?: string[]; paths: string[] } }[] };
  const policies = objects.filter((o) => o.object.kind === 'AuthorizationPolicy').map((o) => o.object as K8sObject & { spec: { selector: { matchLabels: Record<string, string> }; action: string; rules: Rule[] } });
  assert.equal(policies.length, 2);
  const podLabels = deployment.spec.template.metadata.labels as Record<string, string>;
  for (const policy of policies) {
    assert.equal(policy.metadata.namespace, deployment.metadata.namespace);
    assert.equal(policy.spec.action, 'ALLOW');
    for (const [k, v] of Object.entries(policy.spec.selector.matchLabels)) assert.equal(podLabels[k], v);
    // Every rule names its callers: no rule admits anyone (which would make the ALLOW set meaningless).
    for (const rule of policy.spec.rules) assert.ok(rule.from.length > 0 && rule.from.every((f) => (f.source.namespaces ?? f.source.principals ?? []).length > 0));
  }
  const reports = policies.find((p) => p.metadata.name === 'tollgate-control-reports');
  assert.ok(reports !== undefined);
  const reportRule = reports.spec.rules[0] as Rule;
  assert.deepEqual(reportRule.from[0]?.source.namespaces, [wasmPlugin.metadata.namespace]);
  assert.deepEqual(reportRule.to[0]?.operation.methods, ['POST']);
  assert.deepEqual([...(reportRule.to[0]?.operation.paths ?? [])].sort(), ['/v1/distribution/acks', '/v1/usage/reports']);
  const operators = policies.find((p) => p.metadata.name === 'tollgate-control-operators');
  assert.ok(operators !== undefined);
  const adminSources = operators.spec.rules.flatMap((r) => r.from.map((f) => f.source.namespaces ?? []));
  assert.deepEqual(adminSources, [['tollgate-operators']]);
  assert.ok(!adminSources.flat().includes(wasmPlugin.metadata.namespace), 'managed workloads must not reach the admin API');
});
