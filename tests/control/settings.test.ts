import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { loadSettings, SettingsError } from '../../control/settings.js';
import { openSqliteStore } from '../../control/store/sqlite/index.js';
import { run as renderRun } from '../../control/render-cli.js';
import { run as controlRun } from '../../control/cli.js';
import { tempDir } from './helpers.js';

describe('loadSettings', () => {
  it('has the documented defaults', () => {
    const s = loadSettings({}, {}, '/srv');
    assert.equal(s.port, 7070);
    assert.equal(s.dbPath, '/srv/.tollgate/tollgate.db');
    assert.equal(s.failStrategy, 'FAIL_CLOSE');
    assert.deepEqual(s.distribution, []);
    assert.equal(s.debounceMs, 200);
  });

  it('reads env vars and lets flags win', () => {
    const s = loadSettings(
      { TOLLGATE_CONTROL_PORT: '8080', TOLLGATE_DISTRIBUTION: 'dir:/tmp/out, kubernetes,local', TOLLGATE_SELECTOR: 'app=shop,tier=web', TOLLGATE_FAIL_STRATEGY: 'FAIL_OPEN' },
      { port: '9090' },
    );
    assert.equal(s.port, 9090);
    assert.deepEqual(s.distribution, [{ kind: 'dir', path: '/tmp/out' }, { kind: 'kubernetes' }, { kind: 'local' }]);
    assert.deepEqual(s.selector, { app: 'shop', tier: 'web' });
    assert.equal(s.failStrategy, 'FAIL_OPEN');
    assert.deepEqual(loadSettings({ TOLLGATE_TARGET_REFS: 'Gateway/public' }).targetRefs, [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'public' }]);
  });

  it('fails at start-up naming the variable', () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ TOLLGATE_CONTROL_PORT: '70000' }, /TOLLGATE_CONTROL_PORT/],
      [{ TOLLGATE_CONTROL_PORT: 'abc' }, /TOLLGATE_CONTROL_PORT/],
      [{ TOLLGATE_DISTRIBUTION: 'ftp' }, /TOLLGATE_DISTRIBUTION/],
      [{ TOLLGATE_FAIL_STRATEGY: 'maybe' }, /TOLLGATE_FAIL_STRATEGY/],
      [{ TOLLGATE_FILTER_SHA256: 'sha256:abc' }, /TOLLGATE_FILTER_SHA256/],
      [{ TOLLGATE_ADMIN_TOKEN: 'short' }, /TOLLGATE_ADMIN_TOKEN/],
      [{ TOLLGATE_USAGE_INTERVAL_MS: '10' }, /TOLLGATE_USAGE_INTERVAL_MS/],
      [{ TOLLGATE_SELECTOR: 'app=x', TOLLGATE_TARGET_REFS: 'Gateway/y' }, /at most one/],
      [{ TOLLGATE_TARGET_REFS: 'Pod/x' }, /TOLLGATE_TARGET_REFS/],
    ];
    for (const [env, message] of cases) assert.throws(() => loadSettings(env), (err: Error) => err instanceof SettingsError && message.test(err.message));
  });
});

describe('tollgate render', () => {
  it('compiles the store once and writes the WasmPlugin YAML into --out', async () => {
    const dir = tempDir();
    try {
      const dbPath = join(dir, 'db.sqlite');
      const store = openSqliteStore({ path: dbPath });
      const api = await store.apis.create({ name: 'a', pathPrefix: '/a', hosts: [], methods: [] });
      await store.plans.create({ name: 'p', limits: [{ requests: 1, per: 'minute' }], apiIds: [api.id] });
      await store.close();
      const code = await renderRun(['--db', dbPath, '--out', join(dir, 'out'), '--namespace', 'shop', '--filter-url', 'oci://example/tollgate:1']);
      assert.equal(code, 0);
      const plugin = parse(readFileSync(join(dir, 'out', 'wasmplugin-tollgate.yaml'), 'utf8')) as { metadata: { namespace: string }; spec: { url: string; pluginConfig: { apis: { id: string }[]; usage: { token: string } } } };
      assert.equal(plugin.metadata.namespace, 'shop');
      assert.equal(plugin.spec.url, 'oci://example/tollgate:1');
      assert.deepEqual(plugin.spec.pluginConfig.apis.map((a) => a.id), [api.id]);
      assert.match(plugin.spec.pluginConfig.usage.token, /^Bearer tgr_/);
      assert.equal(await renderRun(['--db', dbPath, '--bogus']), 2);
      assert.equal(await renderRun(['--db', dbPath, '--fail-strategy', 'NOPE']), 2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('writes one YAML per target, and generates no admin token that nobody would see', async () => {
    const dir = tempDir();
    try {
      const dbPath = join(dir, 'db.sqlite');
      assert.equal(await renderRun(['--db', dbPath, '--out', join(dir, 'out')]), 0);
      // A service started afterwards still generates (and shows) the admin token: render stored none.
      const { buildApp } = await import('../../control/app.js');
      const announced: string[] = [];
      const app = await buildApp({ ...loadSettings({}), dbPath, logLevel: 'silent', adminToken: undefined }, { announceAdminToken: (t) => announced.push(t) });
      const created = await app.inject({ method: 'POST', url: '/v1/targets', headers: { authorization: `Bearer ${announced[0]}` }, payload: { name: 'second', namespace: 'shop' } });
      assert.equal(created.statusCode, 201);
      await app.close();
      assert.equal(announced.length, 1);
      assert.equal(await renderRun(['--db', dbPath, '--out', join(dir, 'out')]), 0);
      assert.deepEqual(readdirSync(join(dir, 'out')).sort(), ['wasmplugin-second.yaml', 'wasmplugin-tollgate.yaml']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('tollgate control --help documents the flags and env vars; bad flags exit 2', async () => {
    const lines: string[] = [];
    const original = console.log;
    const originalErr = console.error;
    console.log = (...args: unknown[]) => { lines.push(args.join(' ')); };
    console.error = (...args: unknown[]) => { lines.push(args.join(' ')); };
    try {
      assert.equal(await controlRun(['--help']), 0);
      assert.equal(await controlRun(['--no-such-flag']), 2);
      assert.equal(await controlRun(['--port', 'x']), 2);
    } finally {
      console.log = original;
      console.error = originalErr;
    }
    assert.match(lines[0]!, /TOLLGATE_CONTROL_PORT/);
    assert.match(lines[0]!, /TOLLGATE_DISTRIBUTION/);
  });
});
