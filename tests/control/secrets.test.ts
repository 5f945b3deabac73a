import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ADMIN, REPORT, seed, storedText, testApp, type TestApp } from './helpers.js';
import { digestOf } from '../../control/key-material.js';

/** Every file of a SQLite database (main file, WAL, shared memory), or every row of a PostgreSQL one, as one buffer. */
async function databaseBytes(t: TestApp): Promise<Buffer> {
  if (t.dbPath.startsWith('postgres')) return Buffer.from(await storedText(t.dbPath));
  return Buffer.concat(readdirSync(t.dir).filter((f) => f.startsWith('tollgate.db')).map((f) => readFileSync(join(t.dir, f))));
}

describe('plaintext keys and tokens', () => {
  let t: TestApp;
  const keys: string[] = [];
  before(async () => {
    t = await testApp();
    const s = await seed(t);
    keys.push(s.key);
    const rotated = await t.admin('POST', `/v1/keys/${s.keyId}/rotate`, { gracePeriodSeconds: 60 });
    keys.push(rotated.json<{ key: string }>().key);
    const more = await t.admin('POST', `/v1/consumers/${s.consumerId}/keys`, { planId: s.planId });
    keys.push(more.json<{ key: string }>().key);
    await t.app.distributor.flush();
    // Make sure the pages are written to the files we scan.
    await t.admin('GET', '/v1/distribution');
  });
  after(async () => t.close());

  it('never reach the database, but their digests do', async () => {
    const bytes = await databaseBytes(t);
    for (const key of keys) {
      assert.equal(bytes.includes(Buffer.from(key)), false, 'plaintext key in the database');
      assert.equal(bytes.includes(Buffer.from(key.slice(4))), false, 'key body in the database');
      assert.equal(bytes.includes(Buffer.from(digestOf(key))), true, 'digest stored');
    }
    assert.equal(bytes.includes(Buffer.from(ADMIN)), false, 'admin token in the database');
  });

  it('never reach the logs, not even the authorization header', () => {
    const text = t.logs.join('');
    assert.ok(text.length > 0, 'logs were captured');
    for (const key of keys) assert.equal(text.includes(key), false);
    assert.equal(text.includes(ADMIN), false);
    assert.equal(text.includes(REPORT), false);
  });

  it('never appear in listings, the distribution view or the compiled configuration', async () => {
    const s = (await t.admin('GET', '/v1/consumers')).json<{ items: { id: string }[] }>();
    const bodies = [
      (await t.admin('GET', `/v1/consumers/${s.items[0]!.id}/keys`)).body,
      (await t.admin('GET', '/v1/distribution')).body,
      (await t.report('GET', '/v1/distribution/wasmplugin')).body,
      t.app.distributor.current!.compiled.json,
    ];
    for (const body of bodies) for (const key of keys) assert.equal(body.includes(key), false);
  });
});

describe('generated admin token', () => {
  it('is announced once, stored hashed, and accepted afterwards', async () => {
    const { buildApp } = await import('../../control/app.js');
    const { defaultSettings } = await import('../../control/settings.js');
    const { tempDir } = await import('./helpers.js');
    const dir = tempDir();
    const announced: string[] = [];
    const settings = { ...defaultSettings(dir), dbPath: join(dir, 'db.sqlite'), logLevel: 'silent' };
    const first = await buildApp(settings, { announceAdminToken: (tok) => announced.push(tok) });
    await first.close();
    const second = await buildApp(settings, { announceAdminToken: (tok) => announced.push(tok) });
    try {
      assert.equal(announced.length, 1);
      assert.match(announced[0]!, /^tga_/);
      const ok = await second.inject({ method: 'GET', url: '/v1/apis', headers: { authorization: `Bearer ${announced[0]}` } });
      assert.equal(ok.statusCode, 200);
      const bytes = Buffer.concat(readdirSync(dir).map((f) => readFileSync(join(dir, f))));
      assert.equal(bytes.includes(Buffer.from(announced[0]!)), false);
    } finally {
      await second.close();
    }
  });
});

describe('several admin tokens', () => {
  it('accepts each of the comma-separated tokens and nothing else', async () => {
    const { testApp: make } = await import('./helpers.js');
    const t = await make({ adminToken: 'first-admin-token-000001,second-admin-token-00002' });
    try {
      for (const token of ['first-admin-token-000001', 'second-admin-token-00002']) {
        const res = await t.app.inject({ method: 'GET', url: '/v1/apis', headers: { authorization: `Bearer ${token}` } });
        assert.equal(res.statusCode, 200);
      }
      const combined = await t.app.inject({ method: 'GET', url: '/v1/apis', headers: { authorization: 'Bearer first-admin-token-000001,second-admin-token-00002' } });
      assert.equal(combined.statusCode, 401);
    } finally {
      await t.close();
    }
  });
});

describe('a report token equal to an admin token', () => {
  it('is refused at start-up: the report token is shipped to every proxy in the WasmPlugin', async () => {
    const { buildApp } = await import('../../control/app.js');
    const { defaultSettings } = await import('../../control/settings.js');
    const { tempDir } = await import('./helpers.js');
    const { rmSync } = await import('node:fs');
    const dir = tempDir();
    try {
      const base = { ...defaultSettings(dir), dbPath: `${dir}/db`, logLevel: 'silent' };
      await assert.rejects(buildApp({ ...base, adminToken: 'other-admin-token-00001,shared-token-0000000001', reportToken: 'shared-token-0000000001' }), /must differ from every admin token/);
      // Also when the admin token was generated and stored earlier and the report token comes from the environment.
      const announced: string[] = [];
      const app = await buildApp({ ...base, adminToken: undefined, reportToken: undefined }, { announceAdminToken: (t) => announced.push(t) });
      await app.close();
      await assert.rejects(buildApp({ ...base, adminToken: undefined, reportToken: announced[0] }), /must differ/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
