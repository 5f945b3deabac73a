import assert from 'node:assert/strict';
import { chmodSync, closeSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ensureHome, homePaths, openPrivateLog, readSeed, resolveTokens, writeSeed } from '../../mesh/home.js';
import { meshSettingsFromEnv, SettingsError } from '../../mesh/settings.js';
import { startControlProcess } from '../../mesh/control-process.js';
import { freePort, waitForHttp } from '../../mesh/wait.js';

const dirs: string[] = [];
const tempHome = () => {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-home-'));
  dirs.push(dir);
  return join(dir, 'home');
};
after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

describe('mesh settings', () => {
  it('has the documented defaults', () => {
    const s = meshSettingsFromEnv({}, '/srv/app');
    assert.deepEqual([s.home, s.controlPort, s.proxyPort, s.upstreamPort, s.address], ['/srv/app/.tollgate', 7070, 10000, 7080, '127.0.0.1']);
    assert.equal(s.adminToken, undefined);
  });
  it('reads ports, home and tokens from the environment', () => {
    const s = meshSettingsFromEnv({ TOLLGATE_HOME: 'x', TOLLGATE_CONTROL_PORT: '0', TOLLGATE_PROXY_PORT: '1234', TOLLGATE_ADMIN_TOKEN: 'a'.repeat(20), TOLLGATE_USAGE_INTERVAL_MS: '500' }, '/w');
    assert.deepEqual([s.home, s.controlPort, s.proxyPort, s.adminToken, s.usageIntervalMs], ['/w/x', 0, 1234, 'a'.repeat(20), 500]);
  });
  it('runs one sidecar unless TOLLGATE_SIDECARS says more', () => {
    assert.equal(meshSettingsFromEnv({}, '/w').sidecars, 1);
    assert.equal(meshSettingsFromEnv({ TOLLGATE_SIDECARS: '3' }, '/w').sidecars, 3);
  });
  for (const [name, value] of [['TOLLGATE_PROXY_PORT', '70000'], ['TOLLGATE_CONTROL_PORT', 'abc'], ['TOLLGATE_ADMIN_TOKEN', 'short'], ['TOLLGATE_USAGE_INTERVAL_MS', '5'], ['TOLLGATE_SIDECARS', '0'], ['TOLLGATE_SIDECARS', '9']] as const) {
    it(`rejects ${name}=${value} naming the variable`, () => {
      assert.throws(() => meshSettingsFromEnv({ [name]: value }, '/w'), (err: Error) => err instanceof SettingsError && err.message.includes(name));
    });
  }
});

describe('mesh home: tokens and seed record', () => {
  it('generates tokens once, persists them owner-only, and reuses them', () => {
    const home = tempHome();
    ensureHome(home);
    const first = resolveTokens(home, {});
    assert.equal(first.adminGenerated, true);
    assert.match(first.admin, /^tga_[A-Za-z0-9_-]{43}$/);
    assert.match(first.report, /^tgr_[A-Za-z0-9_-]{43}$/);
    assert.equal(statSync(homePaths(home).tokens).mode & 0o077, 0);
    const second = resolveTokens(home, {});
    assert.deepEqual(second, { ...first, adminGenerated: false });
  });
  it('lets the environment win without persisting the given token', () => {
    const home = tempHome();
    ensureHome(home);
    const given = 'operator-chosen-token-123';
    const tokens = resolveTokens(home, { admin: given });
    assert.equal(tokens.admin, given);
    assert.equal(tokens.adminGenerated, false);
    assert.equal(readFileSync(homePaths(home).tokens, 'utf8').includes(given), false);
  });
  it('keeps only ids in the seed record', () => {
    const home = tempHome();
    ensureHome(home);
    assert.equal(readSeed(home), undefined);
    const record = { apiId: 'api_1', planId: 'pln_1', consumerId: 'con_1', keyId: 'key_1', seededAt: '2026-01-01T00:00:00.000Z' };
    writeSeed(home, record);
    assert.deepEqual(readSeed(home), record);
  });
  it('names the file when a state file is corrupt', () => {
    const home = tempHome();
    ensureHome(home);
    writeFileSync(homePaths(home).tokens, '{"admin": ');
    assert.throws(() => resolveTokens(home, {}), /tokens\.json is not valid JSON/);
  });
});

describe('mesh home: owner-only directory and logs', () => {
  const mode = (path: string): string => (statSync(path).mode & 0o777).toString(8);
  let umask = 0;
  before(() => { umask = process.umask(0o022); }); // the common default, under which files come out 0644
  after(() => { process.umask(umask); });

  it('creates the home 0700 and its logs 0600 (both logs the mesh writes)', () => {
    const home = tempHome();
    ensureHome(home);
    assert.equal(mode(home), '700');
    for (const log of [homePaths(home).controlLog, homePaths(home).sidecarLog]) {
      const fd = openPrivateLog(log);
      writeSync(fd, 'a line\n');
      closeSync(fd);
      assert.equal(mode(log), '600', log);
    }
  });
  it('keeps the real control process\'s log, database, -wal and -shm at 0600', async () => {
    const home = tempHome();
    ensureHome(home);
    const root = join(import.meta.dirname, '..', '..');
    const admin = 'mesh-home-admin-token-0123456789';
    const port = await freePort();
    const control = startControlProcess({
      root, home, address: '127.0.0.1', port, adminToken: admin, reportToken: 'mesh-home-report-token-0123456789',
      wasmPath: join(root, 'build', 'tollgate.wasm'), wasmSha256: '0'.repeat(64), usageCluster: 'tollgate-control',
      usageIntervalMs: 1000, log: () => {},
    });
    try {
      assert.equal(await waitForHttp(`${control.url}/healthz`, { timeoutMs: 60_000 }), 200);
      // A committed write, so the WAL and its index exist.
      const res = await fetch(`${control.url}/v1/apis`, {
        method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'orders', pathPrefix: '/orders' }),
      });
      assert.equal(res.status, 201);
      const paths = homePaths(home);
      for (const f of [paths.controlLog, paths.db, `${paths.db}-wal`, `${paths.db}-shm`]) assert.equal(mode(f), '600', f);
    } finally {
      await control.stop();
    }
  });
  it('tightens a log left world-readable by an older version and appends to it', () => {
    const home = tempHome();
    ensureHome(home);
    const log = homePaths(home).controlLog;
    writeFileSync(log, 'old\n');
    chmodSync(log, 0o644);
    const fd = openPrivateLog(log);
    writeSync(fd, 'new\n');
    closeSync(fd);
    assert.equal(mode(log), '600');
    assert.equal(readFileSync(log, 'utf8'), 'old\nnew\n');
  });
});
