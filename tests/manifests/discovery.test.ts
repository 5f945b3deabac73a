// The service-discovery component (manifests/components/discovery): least privilege — a namespaced Role per managed
// namespace with list/watch on Services and get on ConfigMaps only, bound to the control service account; its
// Deployment patch turns discovery on for exactly the namespaces the Roles cover; real kustomize builds it (when
// kubectl is installed) and the control service accepts the settings it sets.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ObjectSerializer } from '@kubernetes/client-node/dist/gen/models/ObjectSerializer.js';
import { parse, parseAllDocuments } from 'yaml';
import { loadSettings } from '../../control/settings.js';
import { findOne, loadObjects, manifestsDir } from './load-manifests.js';

const component = join(manifestsDir, 'components/discovery');
/* eslint-disable @typescript-eslint/no-explicit-any */
const docs = (file: string): any[] => parseAllDocuments(readFileSync(join(component, file), 'utf8')).map((d) => d.toJS()).filter((d) => d !== null);
const deployment = findOne(loadObjects(), 'Deployment', 'tollgate-control') as any;
/* eslint-enable @typescript-eslint/no-explicit-any */
const kustomization = parse(readFileSync(join(component, 'kustomization.yaml'), 'utf8')) as { kind: string; resources: string[]; patches: { path: string; target: { kind: string; name: string } }[] };
const objects = docs('rbac.yaml');
const patch = JSON.parse(readFileSync(join(component, 'deployment-patch.json'), 'utf8')) as { op: string; path: string; value: { name: string; value: string } }[];

function patchedEnv(): Record<string, string | undefined> {
  const d = structuredClone(deployment);
  for (const op of patch) {
    assert.equal(op.op, 'add');
    assert.equal(op.path, '/spec/template/spec/containers/0/env/-');
    d.spec.template.spec.containers[0].env.push(op.value);
  }
  return Object.fromEntries((d.spec.template.spec.containers[0].env as { name: string; value?: string }[]).map((e) => [e.name, e.value]));
}

test('discovery component: a Component listing its RBAC and a patch of the control Deployment', () => {
  assert.equal(kustomization.kind, 'Component');
  assert.deepEqual(kustomization.resources, ['rbac.yaml']);
  assert.deepEqual([kustomization.patches[0]!.target.kind, kustomization.patches[0]!.target.name], ['Deployment', deployment.metadata.name]);
});

test('discovery RBAC: per managed namespace a Role with list/watch services and get configmaps, nothing else, nothing cluster-wide', () => {
  assert.ok(objects.every((o) => !String(o.kind).startsWith('Cluster')), 'no ClusterRole or ClusterRoleBinding');
  const roles = objects.filter((o) => o.kind === 'Role');
  const bindings = objects.filter((o) => o.kind === 'RoleBinding');
  assert.ok(roles.length >= 1);
  for (const role of roles) {
    for (const [o, model] of [[role, 'V1Role'], [bindings.find((b) => b.metadata.name === role.metadata.name), 'V1RoleBinding']] as const) {
      // A round trip through Kubernetes' own model drops any field the API does not know.
      assert.deepEqual(JSON.parse(JSON.stringify(ObjectSerializer.serialize(ObjectSerializer.deserialize(o, model, ''), model, ''))), o, `a valid ${model}`);
    }
    const grants = (role.rules as { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] }[])
      .flatMap((r) => r.apiGroups.flatMap((g) => r.resources.flatMap((res) => r.verbs.map((v) => `${g}/${res}:${v}`)))).sort();
    assert.deepEqual(grants, ['/configmaps:get', '/services:list', '/services:watch']);
    const binding = bindings.find((b) => b.metadata.namespace === role.metadata.namespace);
    assert.ok(binding, `a RoleBinding in ${role.metadata.namespace}`);
    assert.deepEqual(binding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role.metadata.name });
    assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: deployment.spec.template.spec.serviceAccountName, namespace: deployment.metadata.namespace }]);
  }
  assert.equal(bindings.length, roles.length);
});

test('discovery patch: on, for exactly the namespaces the Roles cover; the service accepts the settings', () => {
  const env = patchedEnv();
  assert.equal(env.TOLLGATE_DISCOVERY, 'true');
  const namespaces = env.TOLLGATE_DISCOVERY_NAMESPACES!.split(',').sort();
  assert.deepEqual(namespaces, objects.filter((o) => o.kind === 'Role').map((r) => r.metadata.namespace as string).sort());
  const s = loadSettings({ TOLLGATE_DISCOVERY: env.TOLLGATE_DISCOVERY, TOLLGATE_DISCOVERY_NAMESPACES: env.TOLLGATE_DISCOVERY_NAMESPACES });
  assert.equal(s.discovery, true);
  assert.deepEqual([...s.discoveryNamespaces].sort(), namespaces);
  // The base alone does not turn discovery on (off by default).
  assert.ok(!(deployment.spec.template.spec.containers[0].env as { name: string }[]).some((e) => e.name.startsWith('TOLLGATE_DISCOVERY')));
});

let kubectl = true;
try {
  execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore' });
} catch {
  kubectl = false;
}

test('kustomize builds the base with the component (an overlay outside the base)', { ...(kubectl ? {} : { skip: 'kubectl not installed' }) }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-kustomize-'));
  try {
    cpSync(manifestsDir, join(dir, 'base'), { recursive: true });
    mkdirSync(join(dir, 'overlay'));
    writeFileSync(join(dir, 'overlay/kustomization.yaml'), 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [../base]\ncomponents: [../base/components/discovery]\n');
    const out = execFileSync('kubectl', ['kustomize', join(dir, 'overlay')], { encoding: 'utf8' });
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const built = parseAllDocuments(out).map((d) => d.toJS() as any);
    assert.ok(built.every((o) => !String(o.kind).startsWith('Cluster')));
    assert.ok(built.some((o) => o.kind === 'Role' && o.metadata.name === 'tollgate-discovery'));
    const d = built.find((o) => o.kind === 'Deployment' && o.metadata.name === 'tollgate-control');
    const env = Object.fromEntries((d.spec.template.spec.containers[0].env as { name: string; value?: string }[]).map((e) => [e.name, e.value]));
    assert.equal(env.TOLLGATE_DISCOVERY, 'true');
    assert.equal(env.TOLLGATE_DISCOVERY_NAMESPACES, 'shop');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
