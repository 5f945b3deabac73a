import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { controlEnv } from '../../mesh/control-process.js';

describe('control service child environment (the contract with control/settings)', () => {
  const options = {
    home: '/srv/my home', address: '127.0.0.1', port: 7070, adminToken: 'tga_admin', reportToken: 'tgr_report',
    wasmPath: '/srv/repo dir/build/tollgate.wasm', wasmSha256: 'ab'.repeat(32), usageCluster: 'tollgate-control', usageIntervalMs: 500,
  };
  it('runs local distribution of the filter pinned to its bytes, usage sent to the sidecar cluster name', () => {
    const env = controlEnv({}, options);
    assert.equal(env.TOLLGATE_DISTRIBUTION, 'local');
    assert.equal(env.TOLLGATE_FILTER_URL, 'file:///srv/repo%20dir/build/tollgate.wasm');
    assert.equal(env.TOLLGATE_FILTER_SHA256, 'ab'.repeat(32));
    assert.equal(env.TOLLGATE_USAGE_CLUSTER, 'tollgate-control');
    assert.equal(env.TOLLGATE_USAGE_AUTHORITY, 'tollgate-control');
    assert.equal(env.TOLLGATE_USAGE_INTERVAL_MS, '500');
    assert.equal(env.TOLLGATE_DB, '/srv/my home/tollgate.db');
    assert.equal(env.TOLLGATE_CONTROL_HOST, '127.0.0.1');
    assert.equal(env.TOLLGATE_CONTROL_PORT, '7070');
    assert.deepEqual([env.TOLLGATE_ADMIN_TOKEN, env.TOLLGATE_REPORT_TOKEN], ['tga_admin', 'tgr_report']);
  });
  it('keeps the rest of the environment but overrides stray settings that would break the mesh', () => {
    const env = controlEnv({ PATH: '/bin', TOLLGATE_DISTRIBUTION: 'kubernetes', TOLLGATE_CONTROL_HOST: '0.0.0.0', TOLLGATE_DB: '/elsewhere.db' }, options);
    assert.equal(env.PATH, '/bin');
    assert.equal(env.TOLLGATE_DISTRIBUTION, 'local');
    assert.equal(env.TOLLGATE_CONTROL_HOST, '127.0.0.1');
    assert.equal(env.TOLLGATE_DB, '/srv/my home/tollgate.db');
  });
  it('passes a PostgreSQL URL given to the mesh (TOLLGATE_DB) on to the control service', () => {
    const env = controlEnv({ TOLLGATE_DB: '/elsewhere.db' }, { ...options, db: 'postgres://postgres@127.0.0.1:5432/tollgate' });
    assert.equal(env.TOLLGATE_DB, 'postgres://postgres@127.0.0.1:5432/tollgate');
  });
});
