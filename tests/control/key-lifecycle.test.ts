// Revoke and rotate semantics through REST and into the compiled configuration (docs/control.md, keys).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { seed, testApp, type TestApp } from './helpers.js';

interface KeyBody { id: string; key?: string; status: string; expiresAt: string | null; revokedAt: string | null; replacedBy: string | null }

describe('key lifecycle', () => {
  let t: TestApp;
  let s: Awaited<ReturnType<typeof seed>>;
  before(async () => { t = await testApp(); s = await seed(t); });
  after(async () => t.close());

  const newKey = async (body: Record<string, unknown> = {}): Promise<KeyBody> => {
    const res = await t.admin('POST', `/v1/consumers/${s.consumerId}/keys`, { planId: s.planId, ...body });
    assert.equal(res.statusCode, 201, res.body);
    return res.json<KeyBody>();
  };
  // The live key set (what the key feed serves: unrevoked, unexpired); keys are no longer compiled into the configuration.
  const liveKeys = async (): Promise<{ id: string; expiresAt: number | null }[]> =>
    (await t.app.store.keyFeed.snapshotPage({ targetId: 'default', apiIds: null }, undefined, 10_000)).keys
      .map(([, id, , , expiresAt]) => ({ id, expiresAt: expiresAt === 0 ? null : expiresAt }))
      .filter((k) => k.expiresAt === null || k.expiresAt > Date.now() / 1000);
  const compiledKeyIds = async (): Promise<string[]> => (await liveKeys()).map((k) => k.id);

  it('revoking twice is idempotent: 200 both times, the first revocation time kept, the key leaves the configuration', async () => {
    const k = await newKey();
    assert.ok((await compiledKeyIds()).includes(k.id));
    const first = await t.admin('POST', `/v1/keys/${k.id}/revoke`);
    assert.equal(first.statusCode, 200);
    await new Promise((r) => setTimeout(r, 1100));
    const second = await t.admin('POST', `/v1/keys/${k.id}/revoke`);
    assert.equal(second.statusCode, 200);
    assert.equal(second.json<KeyBody>().status, 'revoked');
    assert.equal(second.json<KeyBody>().revokedAt, first.json<KeyBody>().revokedAt);
    assert.ok(!(await compiledKeyIds()).includes(k.id));
  });

  it('rotating with a grace of 0 ends the old key at once; the successor works and keeps the plan', async () => {
    const k = await newKey();
    const res = await t.admin('POST', `/v1/keys/${k.id}/rotate`, { gracePeriodSeconds: 0 });
    assert.equal(res.statusCode, 201);
    const successor = res.json<KeyBody & { planId: string; consumerId: string }>();
    assert.match(successor.key!, /^tgk_/);
    assert.equal(successor.planId, s.planId);
    assert.equal(successor.consumerId, s.consumerId);
    const old = (await t.admin('GET', `/v1/keys/${k.id}`)).json<KeyBody>();
    assert.equal(old.status, 'expired');
    assert.equal(old.replacedBy, successor.id);
    const ids = await compiledKeyIds();
    assert.ok(!ids.includes(k.id), 'old key out of the configuration');
    assert.ok(ids.includes(successor.id), 'successor in the configuration');
  });

  it('during the grace period both keys are configured, the old one with the grace end; revoking the old one ends it early', async () => {
    const k = await newKey();
    const successor = (await t.admin('POST', `/v1/keys/${k.id}/rotate`, { gracePeriodSeconds: 600 })).json<KeyBody>();
    const old = (await t.admin('GET', `/v1/keys/${k.id}`)).json<KeyBody>();
    assert.equal(old.status, 'rotating');
    const entry = (await liveKeys()).find((e) => e.id === k.id);
    assert.equal(entry?.expiresAt, Date.parse(old.expiresAt!) / 1000, 'grace end shipped as expiresAt');
    assert.ok((await compiledKeyIds()).includes(successor.id));
    assert.equal((await t.admin('POST', `/v1/keys/${k.id}/revoke`)).json<KeyBody>().status, 'revoked');
    const ids = await compiledKeyIds();
    assert.ok(!ids.includes(k.id));
    assert.ok(ids.includes(successor.id), 'revoking the predecessor leaves the successor alone');
  });

  it('a grace longer than the key has left keeps the earlier expiry; the successor inherits it', async () => {
    const expiresAt = new Date(Date.now() + 120_000).toISOString().replace(/\.\d+Z$/, '.000Z');
    const k = await newKey({ expiresAt });
    const successor = (await t.admin('POST', `/v1/keys/${k.id}/rotate`, { gracePeriodSeconds: 86_400 })).json<KeyBody>();
    assert.equal(successor.expiresAt, expiresAt);
    assert.equal((await t.admin('GET', `/v1/keys/${k.id}`)).json<KeyBody>().expiresAt, expiresAt);
  });

  it('rejects out-of-range and missing grace periods, and rotating a revoked key', async () => {
    const k = await newKey();
    for (const body of [{}, { gracePeriodSeconds: 30 * 86_400 + 1 }, { gracePeriodSeconds: 1.5 }, { gracePeriodSeconds: -1 }]) {
      assert.equal((await t.admin('POST', `/v1/keys/${k.id}/rotate`, body)).statusCode, 400, JSON.stringify(body));
    }
    await t.admin('POST', `/v1/keys/${k.id}/revoke`);
    assert.equal((await t.admin('POST', `/v1/keys/${k.id}/rotate`, { gracePeriodSeconds: 10 })).statusCode, 409);
    assert.equal((await t.admin('GET', `/v1/keys/${k.id}`)).json<KeyBody>().replacedBy, null, 'nothing half-done');
  });
});
