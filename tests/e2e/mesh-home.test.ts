import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ensureHome, homePaths, readSeed, resolveTokens, writeSeed } from '../../mesh/home.js';
import { meshSettingsFromEnv, SettingsError } from '../../mesh/settings.js';

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
  for (const [name, value] of [['TOLLGATE_PROXY_PORT', '70000'], ['TOLLGATE_CONTROL_PORT', 'abc'], ['TOLLGATE_ADMIN_TOKEN', 'short'], ['TOLLGATE_USAGE_INTERVAL_MS', '5']] as const) {
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
