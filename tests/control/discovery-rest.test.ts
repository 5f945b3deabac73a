// Discovery through the service as operators meet it: TOLLGATE_DISCOVERY settings, GET /v1/discovery (status),
// GET /v1/discovery/plan (dry run) and `tollgate discover [--dry-run]` as a subprocess, against a loopback list/watch
// API server named by a kubeconfig file.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSettings, SettingsError } from '../../control/settings.js';
import { startControl, type RunningControl } from '../../control/server.js';
import { fakeKubeWatch, type FakeKubeWatch } from './fake-kube-watch.js';
import { ADMIN, REPORT, testStoreUrl } from './helpers.js';
import { openapi } from './discovery-fixtures.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

interface Run { code: number; stdout: string; stderr: string }
function tollgate(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(root, 'bin/tollgate.mjs'), 'discover', ...args], {
      cwd: root, env: { PATH: process.env.PATH ?? '', HOME: tmpdir(), XDG_CONFIG_HOME: join(tmpdir(), 'tollgate-no-config'), ...env }, timeout: 60_000,
    }, (err, stdout, stderr) => resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr }));
  });
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 8000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function kubeconfigFile(dir: string, url: string): string {
  const file = join(dir, 'kubeconfig.yaml');
  writeFileSync(file, [
    'apiVersion: v1', 'kind: Config', 'current-context: fake',
    `clusters: [{name: fake, cluster: {server: "${url}", insecure-skip-tls-verify: true}}]`,
    'users: [{name: fake, user: {token: fake-token}}]',
    'contexts: [{name: fake, context: {cluster: fake, user: fake}}]', '',
  ].join('\n'));
  return file;
}

describe('discovery settings', () => {
  it('off by default; on needs namespaces; * and bad names are refused', () => {
    assert.equal(loadSettings({}).discovery, false);
    assert.throws(() => loadSettings({ TOLLGATE_DISCOVERY: 'true' }), (e: unknown) => e instanceof SettingsError && /TOLLGATE_DISCOVERY_NAMESPACES/.test(e.message));
    assert.throws(() => loadSettings({ TOLLGATE_DISCOVERY: 'true', TOLLGATE_DISCOVERY_NAMESPACES: '*' }), /every namespace is not offered/);
    assert.throws(() => loadSettings({ TOLLGATE_DISCOVERY: 'maybe' }), /true or false/);
    assert.throws(() => loadSettings({ TOLLGATE_DISCOVERY_NAMESPACES: 'shop,shop' }), /twice/);
    const s = loadSettings({ TOLLGATE_DISCOVERY: 'true', TOLLGATE_DISCOVERY_NAMESPACES: 'shop, billing', TOLLGATE_DISCOVERY_ANNOTATION_PREFIX: 'apis.example.com', TOLLGATE_DISCOVERY_OVERWRITE: 'true' });
    assert.deepEqual([s.discovery, s.discoveryNamespaces, s.discoveryAnnotationPrefix, s.discoveryAdopt], [true, ['shop', 'billing'], 'apis.example.com/', true]);
    assert.deepEqual(loadSettings({}, { discovery: 'true', 'discovery-namespaces': 'shop' }).discoveryNamespaces, ['shop']);
  });
});

describe('discovery over REST and the CLI', () => {
  let kube: FakeKubeWatch;
  let dir: string;
  let c: RunningControl;
  let off: RunningControl;
  const disposers: (() => Promise<void>)[] = [];
  const get = async (base: string, path: string, token = ADMIN): Promise<Response> => fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } });

  before(async () => {
    kube = await fakeKubeWatch({ namespaces: ['shop'] });
    kube.setConfigMap('shop', 'spec', { 'openapi.json': openapi('Orders', ['/items']) });
    kube.apply('shop', { name: 'orders', annotations: { 'tollgate.dev/expose': 'true', 'tollgate.dev/openapi': 'configmap:spec/openapi.json' } });
    // Its document is at a URL nothing resolves here: an error in the status, never a crash.
    kube.apply('shop', { name: 'unreachable', annotations: { 'tollgate.dev/expose': 'true', 'tollgate.dev/openapi-path': '/openapi.json' } });
    dir = mkdtempSync(join(tmpdir(), 'tollgate-discovery-'));
    const kubeconfig = kubeconfigFile(dir, kube.url);
    const a = await testStoreUrl();
    const b = await testStoreUrl();
    disposers.push(a.dispose, b.dispose);
    c = await startControl({ dbPath: a.url, adminToken: ADMIN, reportToken: REPORT, logLevel: 'silent', kubeconfig, discovery: true, discoveryNamespaces: ['shop'] });
    off = await startControl({ dbPath: b.url, adminToken: ADMIN, reportToken: REPORT, logLevel: 'silent', kubeconfig });
  });
  after(async () => {
    await c.close();
    await off.close();
    for (const d of disposers) await d();
    await kube.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('GET /v1/discovery: watching, synced, the result per Service (errors included)', async () => {
    const s = await until('orders created', async () => {
      const body = await (await get(c.url, '/v1/discovery')).json() as { services: { service: string; action: string }[] };
      return body.services.some((r) => r.service === 'orders' && r.action === 'create') ? body : undefined;
    }) as unknown as {
      enabled: boolean; leader: boolean; synced: boolean; lastSyncAt: string; namespaces: { namespace: string; resourceVersion: string }[];
      services: { service: string; action: string; error: boolean; detail: string; apiId: string | null }[];
    };
    assert.equal(s.enabled, true);
    assert.equal(s.leader, true);
    assert.equal(s.synced, true);
    assert.ok(!Number.isNaN(Date.parse(s.lastSyncAt)));
    assert.equal(s.namespaces[0]!.namespace, 'shop');
    assert.equal(s.namespaces[0]!.resourceVersion, String(kube.resourceVersion));
    const unreachable = s.services.find((r) => r.service === 'unreachable')!;
    assert.equal(unreachable.action, 'skip');
    assert.equal(unreachable.error, true);
    assert.match(unreachable.detail, /unreachable\.shop\.svc\.cluster\.local:8080\/openapi\.json/);
    const apis = await (await get(c.url, '/v1/apis')).json() as { items: { id: string; name: string; operationCount: number; hosts: string[] }[] };
    assert.deepEqual(apis.items.map((x) => [x.name, x.operationCount]), [['orders.shop', 1]]);
    assert.equal(s.services.find((r) => r.service === 'orders')!.apiId, apis.items[0]!.id);
    assert.equal((await get(c.url, '/v1/discovery', 'wrong-token-0123456789')).status, 401);
  });

  it('GET /v1/discovery/plan while running: from the watch, up to date, nothing written', async () => {
    const res = await get(c.url, '/v1/discovery/plan');
    assert.equal(res.status, 200);
    const plan = await res.json() as { source: string; namespaces: string[]; items: { service: string; action: string; detail: string }[] };
    assert.equal(plan.source, 'watch');
    assert.deepEqual(plan.namespaces, ['shop']);
    const rows = new Map(plan.items.map((r) => [r.service, r]));
    assert.deepEqual([...rows.keys()].sort(), ['orders', 'unreachable']);
    assert.deepEqual([rows.get('orders')!.action, rows.get('orders')!.detail], ['skip', 'up to date']);
    assert.equal(rows.get('unreachable')!.action, 'skip');
    assert.match(rows.get('unreachable')!.detail, /^OpenAPI document http:\/\/unreachable\.shop\.svc\.cluster\.local:8080\/openapi\.json: .*; the API is left as it is$/);
  });

  it('discovery off: status says so; the dry run needs namespaces (409 problem+json)', async () => {
    const s = await (await get(off.url, '/v1/discovery')).json() as { enabled: boolean };
    assert.equal(s.enabled, false);
    const res = await get(off.url, '/v1/discovery/plan');
    assert.equal(res.status, 409);
    assert.match(res.headers.get('content-type') ?? '', /problem\+json/);
    assert.match((await res.json() as { detail: string }).detail, /TOLLGATE_DISCOVERY_NAMESPACES/);
  });

  it('tollgate discover --dry-run prints the plan as a table; tollgate discover prints the status', async () => {
    kube.apply('shop', { name: 'payments', annotations: { 'tollgate.dev/expose': 'true', 'tollgate.dev/path-prefix': '/pay' } });
    const dry = await tollgate(['--dry-run', '--url', c.url, '--token', ADMIN]);
    // 1: a Service has an error (unreachable's document).
    assert.equal(dry.code, 1, dry.stderr);
    const lines = dry.stdout.split('\n');
    assert.match(lines[0]!, /^NAMESPACE\s+SERVICE\s+ACTION\s+API\s+DETAIL$/);
    assert.ok(lines.some((l) => /^shop\s+orders\s+skip\s+api_\S+\s+up to date$/.test(l)), dry.stdout);
    assert.ok(lines.some((l) => /^shop\s+unreachable\s+skip!\s+-\s+OpenAPI document/.test(l)), dry.stdout);
    assert.match(dry.stdout, /nothing was written/);
    const status = await tollgate(['--url', c.url, '--token', ADMIN]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /^NAMESPACE\s+SERVICE\s+ACTION/m);
    assert.match(status.stdout, /leader, synced, last sync /);
    const bad = await tollgate(['--dry-run', '--url', off.url, '--token', ADMIN]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /HTTP 409: .*TOLLGATE_DISCOVERY_NAMESPACES/);
    assert.equal((await tollgate(['--bogus'])).code, 2);
  });

  it('tollgate discover finds the URL and token where the other admin commands do (environment, config file)', async () => {
    const viaEnv = await tollgate([], { TOLLGATE_URL: c.url, TOLLGATE_TOKEN: ADMIN });
    assert.equal(viaEnv.code, 0, viaEnv.stderr);
    assert.match(viaEnv.stdout, /^NAMESPACE\s+SERVICE\s+ACTION/m);
    const config = join(dir, 'discover-config.json');
    writeFileSync(config, JSON.stringify({ url: c.url, token: ADMIN }));
    chmodSync(config, 0o600);
    const viaFile = await tollgate(['--json'], { TOLLGATE_CONFIG: config });
    assert.equal(viaFile.code, 0, viaFile.stderr);
    assert.equal((JSON.parse(viaFile.stdout) as { enabled: boolean }).enabled, true);
    // A token file others can read is refused, as for the other commands; no token anywhere is a usage error.
    chmodSync(config, 0o644);
    const open = await tollgate([], { TOLLGATE_CONFIG: config });
    assert.equal(open.code, 2);
    assert.match(open.stderr, /readable by others/);
    const none = await tollgate(['--url', c.url]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /no admin token/);
    assert.ok(![viaEnv, viaFile, open, none].some((r) => `${r.stdout}${r.stderr}`.includes(ADMIN)), 'the token is printed nowhere');
  });
});
