// RBAC for the resource kinds other than WasmPlugin (manifests/components/<kind>): the same least privilege as the
// base WasmPlugin Role — create, and get/patch/delete of the objects named like the base Role's — for exactly the API
// group and resource the Kubernetes sink writes (contracts/resources.ts), nothing cluster-wide; real kustomize builds
// the base with both components.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { API_VERSIONS, COMPANION_PLURALS, ENVOYPATCHPOLICY_API_VERSION, RESOURCE_PLURALS, envoyPatchPolicyName, type ResourceKind } from '../../contracts/resources.js';
import { findOne, loadObjects, manifestsDir } from './load-manifests.js';

type Rule = { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] };
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = any;

const grants = (rules: Rule[]): string[] => rules.flatMap((r) => r.apiGroups.flatMap((g) => r.resources.flatMap((res) =>
  r.verbs.map((v) => `${g}/${res}:${v}${r.resourceNames === undefined ? '' : `@${[...r.resourceNames].sort().join(',')}`}`)))).sort();

const baseRole = findOne(loadObjects(), 'Role') as Obj;
const baseNames = (baseRole.rules as Rule[]).find((r) => r.resourceNames !== undefined)!.resourceNames!;
const kinds: [ResourceKind, string][] = [['TrafficExtension', 'trafficextension'], ['EnvoyExtensionPolicy', 'envoyextensionpolicy']];

for (const [kind, dir] of kinds) {
  test(`${kind} component: create plus get/patch/delete of the base Role's names, on the group and resource the sink writes (EnvoyExtensionPolicy: and its EnvoyPatchPolicies)`, () => {
    const component = join(manifestsDir, 'components', dir);
    const k = parse(readFileSync(join(component, 'kustomization.yaml'), 'utf8')) as { kind: string; resources: string[] };
    assert.equal(k.kind, 'Component');
    assert.deepEqual(k.resources, ['rbac.yaml']);
    const objects = parseAllDocuments(readFileSync(join(component, 'rbac.yaml'), 'utf8')).map((d) => d.toJS() as Obj);
    assert.ok(objects.every((o) => o.kind === 'Role' || o.kind === 'RoleBinding'), 'namespaced RBAC only');
    const role = objects.find((o) => o.kind === 'Role');
    const binding = objects.find((o) => o.kind === 'RoleBinding');
    const group = API_VERSIONS[kind].split('/')[0]!;
    const res = RESOURCE_PLURALS[kind];
    const names = [...baseNames].sort().join(',');
    const expected = [`${group}/${res}:create`, `${group}/${res}:delete@${names}`, `${group}/${res}:get@${names}`, `${group}/${res}:patch@${names}`];
    if (kind === 'EnvoyExtensionPolicy') {
      // The companions: the EnvoyPatchPolicy of each target's first Gateway, by the name the renderer gives it.
      const eppGroup = ENVOYPATCHPOLICY_API_VERSION.split('/')[0]!;
      const epp = COMPANION_PLURALS.EnvoyPatchPolicy;
      const eppNames = baseNames.map((n) => envoyPatchPolicyName(n, 0)).sort().join(',');
      expected.push(`${eppGroup}/${epp}:create`, ...['delete', 'get', 'patch'].map((v) => `${eppGroup}/${epp}:${v}@${eppNames}`));
    }
    assert.deepEqual(grants(role.rules), expected.sort());
    assert.equal(role.metadata.namespace, baseRole.metadata.namespace);
    assert.deepEqual(binding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role.metadata.name });
    const baseBinding = findOne(loadObjects(), 'RoleBinding') as Obj;
    assert.deepEqual(binding.subjects, baseBinding.subjects);
  });
}

let kubectl = true;
try {
  execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore' });
} catch {
  kubectl = false;
}

test('kustomize builds the base with both kind components', { ...(kubectl ? {} : { skip: 'kubectl not installed' }) }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-kustomize-'));
  try {
    cpSync(manifestsDir, join(dir, 'base'), { recursive: true });
    mkdirSync(join(dir, 'overlay'));
    writeFileSync(join(dir, 'overlay/kustomization.yaml'), `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [../base]\ncomponents: [${kinds.map(([, d]) => `../base/components/${d}`).join(', ')}]\n`);
    const built = parseAllDocuments(execFileSync('kubectl', ['kustomize', join(dir, 'overlay')], { encoding: 'utf8' })).map((d) => d.toJS() as Obj);
    const roles = built.filter((o) => o.kind === 'Role').map((o) => o.metadata.name as string).sort();
    assert.deepEqual(roles, [baseRole.metadata.name, ...kinds.map(([, d]) => `tollgate-${d}-writer`)].sort());
    assert.ok(built.every((o) => !String(o.kind).startsWith('Cluster')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
