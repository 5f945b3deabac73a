import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN, seed, testApp, type TestApp } from './helpers.js';

interface Problem { type: string; title: string; status: number; detail?: string; errors?: { path: string; message: string }[] }

describe('admin authentication', () => {
  let t: TestApp;
  before(async () => { t = await testApp(); });
  after(async () => t.close());

  it('rejects a missing token with 401 problem+json', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/v1/apis' });
    assert.equal(res.statusCode, 401);
    assert.match(res.headers['content-type'] as string, /^application\/problem\+json/);
    assert.equal(res.json<Problem>().status, 401);
    assert.equal(res.headers['www-authenticate'], 'Bearer');
  });

  it('rejects a wrong token and the report token on admin routes', async () => {
    for (const token of ['wrong-token-wrong-token', 'test-report-token-0123456789']) {
      const res = await t.app.inject({ method: 'GET', url: '/v1/apis', headers: { authorization: `Bearer ${token}` } });
      assert.equal(res.statusCode, 401);
    }
  });

  it('rejects the admin token on the report endpoint', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/v1/usage/reports', headers: { authorization: `Bearer ${ADMIN}` }, payload: {} });
    assert.equal(res.statusCode, 401);
  });

  it('serves health, metrics and OpenAPI without a token', async () => {
    assert.equal((await t.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
    assert.equal((await t.app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200);
    const metrics = await t.app.inject({ method: 'GET', url: '/metrics' });
    assert.match(metrics.body, /tollgate_usage_dropped_total/);
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json<{ openapi: string; paths: Record<string, unknown> }>();
    assert.match(doc.openapi, /^3\./);
    for (const path of ['/v1/apis', '/v1/plans/{id}', '/v1/consumers/{id}/keys', '/v1/keys/{id}/rotate', '/v1/usage', '/v1/usage/reports', '/v1/distribution/wasmplugin', '/v1/distribution/acks']) {
      assert.ok(path in doc.paths, `${path} in OpenAPI`);
    }
  });

  it('answers unknown routes 404 problem+json', async () => {
    const res = await t.admin('GET', '/v1/nothing');
    assert.equal(res.statusCode, 404);
    assert.equal(res.json<Problem>().status, 404);
  });
});

describe('/v1/apis', () => {
  let t: TestApp;
  before(async () => { t = await testApp(); });
  after(async () => t.close());

  it('creates, reads, patches, lists and deletes', async () => {
    const created = await t.admin('POST', '/v1/apis', { name: 'catalog', pathPrefix: '/catalog', hosts: ['shop.example.com'], methods: ['GET'] });
    assert.equal(created.statusCode, 201);
    const api = created.json<{ id: string; name: string; createdAt: string; hosts: string[] }>();
    assert.match(api.id, /^api_[A-Za-z0-9]{10}$/);
    assert.deepEqual(api.hosts, ['shop.example.com']);
    assert.ok(!Number.isNaN(Date.parse(api.createdAt)), 'ISO timestamp');
    assert.equal((await t.admin('GET', `/v1/apis/${api.id}`)).json<{ name: string }>().name, 'catalog');
    const patched = await t.admin('PATCH', `/v1/apis/${api.id}`, { pathPrefix: '/catalog/v2' });
    assert.equal(patched.statusCode, 200);
    assert.equal(patched.json<{ pathPrefix: string; name: string }>().pathPrefix, '/catalog/v2');
    assert.equal(patched.json<{ name: string }>().name, 'catalog');
    const list = await t.admin('GET', '/v1/apis');
    assert.ok(list.json<{ items: { id: string }[] }>().items.some((a) => a.id === api.id));
    assert.equal((await t.admin('DELETE', `/v1/apis/${api.id}`)).statusCode, 204);
    assert.equal((await t.admin('GET', `/v1/apis/${api.id}`)).statusCode, 404);
    assert.equal((await t.admin('DELETE', `/v1/apis/${api.id}`)).statusCode, 404);
  });

  it('rejects unknown fields, bad values and missing fields with 400 naming the field', async () => {
    const unknown = await t.admin('POST', '/v1/apis', { name: 'x', pathPrefix: '/x', colour: 'red' });
    assert.equal(unknown.statusCode, 400);
    assert.match(JSON.stringify(unknown.json<Problem>().errors), /colour/);
    for (const body of [
      { name: 'x', pathPrefix: 'no-slash' },
      { name: '', pathPrefix: '/x' },
      { name: 'x'.repeat(129), pathPrefix: '/x' },
      { name: 'x', pathPrefix: '/x', methods: ['get'] },
      { name: 'x', pathPrefix: '/x', hosts: ['UPPER.example.com'] },
      { pathPrefix: '/x' },
    ]) {
      const res = await t.admin('POST', '/v1/apis', body);
      assert.equal(res.statusCode, 400, JSON.stringify(body));
      assert.match(res.headers['content-type'] as string, /problem\+json/);
    }
    assert.equal((await t.admin('PATCH', '/v1/apis/api_missing000', { name: 'y' })).statusCode, 404);
    assert.equal((await t.admin('GET', '/v1/apis/bad id!')).statusCode, 400);
  });

  it('answers 409 for a duplicate name and for deleting an API a plan uses', async () => {
    const s = await seed(t);
    const dup = await t.admin('POST', '/v1/apis', { name: 'orders', pathPrefix: '/other' });
    assert.equal(dup.statusCode, 409);
    const del = await t.admin('DELETE', `/v1/apis/${s.apiId}`);
    assert.equal(del.statusCode, 409);
    assert.match(del.json<Problem>().detail!, new RegExp(s.planId));
  });
});

describe('pagination', () => {
  let t: TestApp;
  before(async () => { t = await testApp(); });
  after(async () => t.close());

  it('walks every item exactly once with limit and cursor', async () => {
    for (let i = 0; i < 7; i++) assert.equal((await t.admin('POST', '/v1/consumers', { name: `c${i}` })).statusCode, 201);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await t.admin('GET', `/v1/consumers?limit=3${cursor === null ? '' : `&cursor=${cursor}`}`);
      assert.equal(res.statusCode, 200);
      const body = res.json<{ items: { id: string }[]; nextCursor: string | null }>();
      assert.ok(body.items.length <= 3);
      seen.push(...body.items.map((c) => c.id));
      cursor = body.nextCursor;
      pages++;
    } while (cursor !== null);
    assert.equal(pages, 3);
    assert.equal(seen.length, 7);
    assert.equal(new Set(seen).size, 7);
  });

  it('ends without an empty page on an exact multiple, on an empty list, and after the cursor item is deleted', async () => {
    const empty = (await t.admin('GET', '/v1/apis?limit=5')).json<{ items: unknown[]; nextCursor: string | null }>();
    assert.deepEqual(empty, { items: [], nextCursor: null });
    const all = (await t.admin('GET', '/v1/consumers?limit=500')).json<{ items: { id: string }[] }>().items;
    const size = all.length; // 7 from the test before, or however many this run made
    const first = (await t.admin('GET', `/v1/consumers?limit=${size}`)).json<{ items: unknown[]; nextCursor: string | null }>();
    assert.equal(first.items.length, size);
    assert.equal(first.nextCursor, null, 'no cursor to an empty page');
    const page = (await t.admin('GET', '/v1/consumers?limit=2')).json<{ items: { id: string }[]; nextCursor: string }>();
    assert.equal((await t.admin('DELETE', `/v1/consumers/${page.items[1]!.id}`)).statusCode, 204);
    const rest = (await t.admin('GET', `/v1/consumers?limit=500&cursor=${page.nextCursor}`)).json<{ items: { id: string }[] }>().items;
    assert.deepEqual(rest.map((c) => c.id), all.slice(2).map((c) => c.id), 'the walk goes on after a deleted cursor item');
  });

  it('rejects limits out of range and forged cursors', async () => {
    assert.equal((await t.admin('GET', '/v1/consumers?limit=0')).statusCode, 400);
    assert.equal((await t.admin('GET', '/v1/consumers?limit=501')).statusCode, 400);
    assert.equal((await t.admin('GET', '/v1/consumers?cursor=%25%25')).statusCode, 400);
    assert.equal((await t.admin('GET', '/v1/consumers?sort=name')).statusCode, 400);
  });
});

describe('/v1/plans', () => {
  let t: TestApp;
  before(async () => { t = await testApp(); });
  after(async () => t.close());

  it('validates limits and references', async () => {
    const api = (await t.admin('POST', '/v1/apis', { name: 'a', pathPrefix: '/a' })).json<{ id: string }>();
    assert.equal((await t.admin('POST', '/v1/plans', { name: 'p', limits: [{ requests: 0, per: 'minute' }], apiIds: [api.id] })).statusCode, 400);
    assert.equal((await t.admin('POST', '/v1/plans', { name: 'p', limits: [{ requests: 1, per: 'week' }], apiIds: [api.id] })).statusCode, 400);
    assert.equal((await t.admin('POST', '/v1/plans', { name: 'p', limits: Array(17).fill({ requests: 1, per: 'day' }), apiIds: [] })).statusCode, 400);
    assert.equal((await t.admin('POST', '/v1/plans', { name: 'p', limits: [], apiIds: ['api_nothere00'] })).statusCode, 422);
    const ok = await t.admin('POST', '/v1/plans', { name: 'p', limits: [{ requests: 5, per: 'second' }], apiIds: [api.id] });
    assert.equal(ok.statusCode, 201);
    const id = ok.json<{ id: string }>().id;
    const patched = await t.admin('PATCH', `/v1/plans/${id}`, { apiIds: [] });
    assert.deepEqual(patched.json<{ apiIds: string[] }>().apiIds, []);
    assert.equal((await t.admin('PATCH', `/v1/plans/${id}`, {})).statusCode, 400);
    assert.equal((await t.admin('POST', '/v1/plans', { name: 'p', limits: [], apiIds: [] })).statusCode, 409);
  });

  it('refuses to delete a plan keys use, then deletes it once they are gone', async () => {
    const s = await seed(t);
    assert.equal((await t.admin('DELETE', `/v1/plans/${s.planId}`)).statusCode, 409);
    assert.equal((await t.admin('DELETE', `/v1/consumers/${s.consumerId}`)).statusCode, 204);
    assert.equal((await t.admin('DELETE', `/v1/plans/${s.planId}`)).statusCode, 204);
    assert.equal((await t.admin('GET', `/v1/plans/${s.planId}`)).statusCode, 404);
  });
});

describe('/v1/consumers and keys', () => {
  let t: TestApp;
  before(async () => { t = await testApp(); });
  after(async () => t.close());

  it('issues a key once, lists it without the plaintext, revokes and rotates', async () => {
    const s = await seed(t);
    assert.match(s.key, /^tgk_[A-Za-z0-9_-]{43}$/);
    const listed = await t.admin('GET', `/v1/consumers/${s.consumerId}/keys`);
    assert.equal(listed.statusCode, 200);
    const items = listed.json<{ items: Record<string, unknown>[] }>().items;
    assert.equal(items.length, 1);
    assert.equal(items[0]!.key, undefined);
    assert.equal(items[0]!.prefix, s.key.slice(0, 8));
    assert.ok(!listed.body.includes(s.key));
    assert.ok(!(await t.admin('GET', `/v1/keys/${s.keyId}`)).body.includes(s.key));

    const rotated = await t.admin('POST', `/v1/keys/${s.keyId}/rotate`, { gracePeriodSeconds: 3600 });
    assert.equal(rotated.statusCode, 201);
    const successor = rotated.json<{ id: string; key: string; status: string }>();
    assert.notEqual(successor.key, s.key);
    assert.equal(successor.status, 'active');
    const old = (await t.admin('GET', `/v1/keys/${s.keyId}`)).json<{ status: string; expiresAt: string; replacedBy: string }>();
    assert.equal(old.status, 'rotating');
    assert.equal(old.replacedBy, successor.id);
    const graceEnd = Date.parse(old.expiresAt);
    assert.ok(Math.abs(graceEnd - Date.now() - 3600_000) < 60_000);
    assert.equal((await t.admin('POST', `/v1/keys/${s.keyId}/rotate`, { gracePeriodSeconds: 10 })).statusCode, 409);

    const revoked = await t.admin('POST', `/v1/keys/${successor.id}/revoke`);
    assert.equal(revoked.statusCode, 200);
    assert.equal(revoked.json<{ status: string }>().status, 'revoked');
    assert.equal((await t.admin('POST', `/v1/keys/${successor.id}/rotate`, { gracePeriodSeconds: 10 })).statusCode, 409);
  });

  it('rejects bad key requests', async () => {
    const s = await seed(t, [{ requests: 10, per: 'hour' }]).catch(() => undefined);
    const consumer = s?.consumerId ?? (await t.admin('POST', '/v1/consumers', { name: 'other' })).json<{ id: string }>().id;
    const planId = s?.planId ?? 'pln_missing000';
    assert.equal((await t.admin('POST', '/v1/consumers/con_missing000/keys', { planId })).statusCode, 404);
    assert.equal((await t.admin('POST', `/v1/consumers/${consumer}/keys`, { planId: 'pln_missing000' })).statusCode, 422);
    assert.equal((await t.admin('POST', `/v1/consumers/${consumer}/keys`, { planId, expiresAt: 'tomorrow' })).statusCode, 400);
    assert.equal((await t.admin('POST', `/v1/consumers/${consumer}/keys`, { planId, expiresAt: '2001-01-01T00:00:00Z' })).statusCode, 422);
    assert.equal((await t.admin('POST', `/v1/consumers/${consumer}/keys`, { planId, key: 'mine' })).statusCode, 400);
    assert.equal((await t.admin('POST', '/v1/keys/key_missing000/revoke')).statusCode, 404);
    assert.equal((await t.admin('POST', '/v1/keys/key_missing000/rotate', { gracePeriodSeconds: -1 })).statusCode, 400);
    assert.equal((await t.admin('GET', '/v1/consumers/con_missing000/keys')).statusCode, 404);
    assert.equal((await t.admin('PATCH', `/v1/consumers/${consumer}`, { name: 'renamed' })).statusCode, 200);
  });
});

describe('rotating an expired key', () => {
  it('answers 409 instead of minting a successor that is already expired', async () => {
    let clock = 1_800_000_000;
    const { openStore } = await import('../../control/store/open-store.js');
    const { testStoreUrl } = await import('./helpers.js');
    const place = await testStoreUrl();
    const store = await openStore({ url: place.url, now: () => clock });
    try {
      const api = await store.apis.create({ name: 'a', pathPrefix: '/a', hosts: [], methods: [] });
      const plan = await store.plans.create({ name: 'p', limits: [], apiIds: [api.id] });
      const consumer = await store.consumers.create('c');
      const key = await store.keys.create({ consumerId: consumer.id, planId: plan.id, digest: 'A'.repeat(43), prefix: 'tgk_AAAA', expiresAt: clock + 60 });
      clock += 61;
      await assert.rejects(store.keys.rotate(key.id, { digest: 'B'.repeat(43), prefix: 'tgk_BBBB' }, clock + 10), /expired/);
    } finally {
      await store.close();
      await place.dispose();
    }
  });
});
