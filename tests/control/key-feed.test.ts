// The key feed (docs/key-feed.md) through the REST app, on the run's backend (SQLite, or PostgreSQL with
// TOLLGATE_TEST_STORE=postgres): snapshot paging, deltas of every op, collapse, digests, 410s, scope, auth, params,
// long poll.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SNAPSHOT_REQUIRED_TYPE, setDigest, type DeltaPage, type SnapshotPage } from '../../contracts/key-feed.js';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ADMIN, ON_POSTGRES, REPORT, batchId, currentMinute, seed, tempDir, testApp, type TestApp } from './helpers.js';
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { applyDelta, catchUp, injectGet, mirrorDigest, takeSnapshot, type Get } from './key-feed-client.js';

const validateReply = new Ajv2020({ allErrors: true }).compile(JSON.parse(readFileSync(new URL('../../schemas/key-feed.v1.schema.json', import.meta.url), 'utf8')) as object);

/** Every 200 reply of the feed is checked against the public schema on its way to the test. */
function validating(get: Get): Get {
  return async (url) => {
    const r = await get(url);
    if (r.statusCode === 200) assert.ok(validateReply(r.json()), `${url}: ${JSON.stringify(validateReply.errors)}`);
    return r;
  };
}

const REPORTER = '0123456789abcdef';

describe('key feed', () => {
  let t: TestApp;
  let s: Awaited<ReturnType<typeof seed>>;
  let get: Get;
  const bulk = async (count: number, consumerId = s.consumerId, planId = s.planId, expiresAt?: string): Promise<{ id: string; key: string }[]> => {
    const r = await t.admin('POST', '/v1/keys:bulkCreate', { consumerId, planId, count, ...(expiresAt !== undefined ? { expiresAt } : {}) });
    assert.equal(r.statusCode, 201, r.body);
    return r.json<{ keys: { id: string; key: string }[] }>().keys;
  };

  before(async () => {
    t = await testApp();
    s = await seed(t, [{ requests: 100, per: 'hour' }]);
    get = validating(injectGet(t.app, REPORT));
  });
  after(async () => t.close());

  it('pages a snapshot in digest order; the last page carries the digest of the whole set and the fleet', async () => {
    await bulk(24);
    const { mirror, pages } = await takeSnapshot(get, 10, REPORTER);
    assert.equal(pages.length, 3);
    assert.deepEqual(pages.map((p) => p.keys.length), [10, 10, 5]);
    const digests = pages.flatMap((p) => p.keys.map((k) => k[0]));
    assert.deepEqual(digests, [...digests].sort(), 'digest order');
    assert.equal(new Set(digests).size, 25);
    assert.equal(pages[0]!.digest, undefined, 'only the last page carries the digest');
    assert.equal(pages[0]!.next, pages[0]!.keys.at(-1)![0]);
    assert.equal(pages[2]!.next, null);
    assert.equal(mirror.digest, setDigest(mirror.keys.values()));
    assert.ok(Array.isArray(pages[2]!.fleet));
    assert.match(pages[0]!.epoch, /^[0-9a-f]{32}$/);
    const seeded = mirror.keys.get(s.keyId)!;
    assert.deepEqual(seeded.slice(1), [s.keyId, s.consumerId, s.planId, 0]);
    assert.match(seeded[0], /^[A-Za-z0-9_-]{43}$/);
  });

  it('deltas carry add, revoke, rotate, expire and deletion; each key once; the digest follows', async () => {
    const { mirror } = await takeSnapshot(get);
    const start = mirror.revision;
    const [a, b, c] = await bulk(3);
    // Revoked after being added: collapses to one revoke.
    assert.equal((await t.admin('POST', `/v1/keys/${b!.id}/revoke`)).statusCode, 200);
    const rotated = await t.admin('POST', `/v1/keys/${c!.id}/rotate`, { gracePeriodSeconds: 600 });
    assert.equal(rotated.statusCode, 201);
    const successor = rotated.json<{ id: string }>().id;
    const pages = await catchUp(get, mirror);
    const changes = pages.flatMap((p) => p.changes);
    const byKey = new Map(changes.map((ch) => [ch.key[1], ch]));
    assert.equal(byKey.size, changes.length, 'each key at most once');
    assert.equal(byKey.get(a!.id)!.op, 'add');
    assert.equal(byKey.get(b!.id)!.op, 'revoke');
    assert.equal(byKey.get(c!.id)!.op, 'rotate');
    assert.ok(Math.abs(byKey.get(c!.id)!.key[4] - (Math.floor(Date.now() / 1000) + 600)) <= 5, 'the rotated key carries its grace expiry');
    assert.equal(byKey.get(successor)!.op, 'add');
    assert.equal(pages.at(-1)!.since, start);
    assert.equal(mirror.digest, mirrorDigest(mirror));
    assert.ok(!mirror.keys.has(b!.id) && mirror.keys.has(a!.id) && mirror.keys.has(successor));

    // Expiry: swept by the store (here with a clock an hour ahead), recorded as expire.
    const soon = new Date(Date.now() + 1800_000).toISOString();
    const [e] = await bulk(1, s.consumerId, s.planId, soon);
    await catchUp(get, mirror);
    assert.ok(mirror.keys.has(e!.id), 'an unexpired key is in the set');
    assert.ok(await t.app.store.keyFeed.sweepExpired(Math.floor(Date.now() / 1000) + 3600, 10_000) >= 2, 'the expiring key and the rotated one');
    const expired = (await catchUp(get, mirror)).flatMap((p) => p.changes);
    assert.equal(expired.find((ch) => ch.key[1] === e!.id)?.op, 'expire');
    assert.ok(!mirror.keys.has(e!.id) && !mirror.keys.has(c!.id));
    assert.equal(mirror.digest, mirrorDigest(mirror));

    // Deleting a consumer takes its keys out.
    const other = (await t.admin('POST', '/v1/consumers', { name: 'leaving' })).json<{ id: string }>();
    const gone = await bulk(2, other.id);
    await catchUp(get, mirror);
    assert.ok(mirror.keys.has(gone[0]!.id));
    assert.equal((await t.admin('DELETE', `/v1/consumers/${other.id}`)).statusCode, 204);
    const removed = (await catchUp(get, mirror)).flatMap((p) => p.changes);
    assert.deepEqual(removed.map((ch) => ch.op), ['revoke', 'revoke']);
    assert.ok(!mirror.keys.has(gone[0]!.id) && !mirror.keys.has(gone[1]!.id));

    // The mirror kept by deltas equals a snapshot taken from scratch.
    const fresh = await takeSnapshot(get);
    assert.deepEqual([...mirror.keys.values()].sort(), [...fresh.mirror.keys.values()].sort());
    assert.equal(fresh.mirror.digest, mirror.digest);
  });

  it('a delta page cut by its limit says more and carries no digest; following it reaches the same set', async () => {
    const { mirror } = await takeSnapshot(get);
    await bulk(7);
    const first = (await get(`/v1/keyfeed/deltas?epoch=${mirror.epoch}&since=${mirror.revision}&limit=3`)).json<DeltaPage>();
    assert.equal(first.more, true);
    assert.equal(first.changes.length, 3);
    assert.equal(first.digest, undefined);
    assert.equal(first.revision, mirror.revision + 3);
    applyDelta(mirror, first);
    const rest = await catchUp(get, mirror, 3);
    assert.equal(rest.at(-1)!.more, false);
    assert.equal(mirror.digest, mirrorDigest(mirror));
    assert.equal(mirror.keys.size, (await takeSnapshot(get)).mirror.keys.size);
  });

  it('answers 410 snapshot-required for another epoch, a revision newer than the head, or one older than the history', async () => {
    const { mirror } = await takeSnapshot(get);
    const gone = async (q: string): Promise<void> => {
      const r = await get(`/v1/keyfeed/deltas?${q}`);
      assert.equal(r.statusCode, 410, r.body);
      assert.match(r.headers['content-type'] as string, /application\/problem\+json/);
      assert.equal(r.json<{ type: string }>().type, SNAPSHOT_REQUIRED_TYPE);
    };
    await gone(`epoch=${'0'.repeat(32)}&since=${mirror.revision}`);
    await gone(`epoch=${mirror.epoch}&since=${mirror.revision + 1}`);
    // History: pruning with a clock 8 days ahead drops every logged change.
    await bulk(1);
    assert.ok(await t.app.store.keyFeed.prune(Math.floor(Date.now() / 1000) + 8 * 86_400) > 0);
    await gone(`epoch=${mirror.epoch}&since=${mirror.revision}`);
    const fresh = await takeSnapshot(get);
    assert.equal((await get(`/v1/keyfeed/deltas?epoch=${fresh.mirror.epoch}&since=${fresh.mirror.revision}`)).statusCode, 200);
  });

  it('a restricted target sees only the keys of plans on its APIs; a scope change forces a snapshot', async () => {
    const api = (await t.admin('POST', '/v1/apis', { name: 'shop', pathPrefix: '/shop' })).json<{ id: string }>();
    const plan = (await t.admin('POST', '/v1/plans', { name: 'shop-plan', limits: [{ requests: 5, per: 'hour' }], apiIds: [api.id] })).json<{ id: string }>();
    const target = (await t.admin('POST', '/v1/targets', { name: 'tollgate-shop', namespace: 'shop', selector: { app: 'shop' }, apiIds: [api.id] }))
      .json<{ id: string; reportToken: string }>();
    const shop = validating(injectGet(t.app, target.reportToken));
    const shopKeys = await bulk(3, s.consumerId, plan.id);
    const { mirror } = await takeSnapshot(shop);
    assert.deepEqual([...mirror.keys.keys()].sort(), shopKeys.map((k) => k.id).sort());
    assert.equal(mirror.digest, mirrorDigest(mirror));
    // Keys of other plans never reach it, by delta either.
    await bulk(2);
    const [more] = await bulk(1, s.consumerId, plan.id);
    const changes = (await catchUp(shop, mirror)).flatMap((p) => p.changes);
    assert.deepEqual(changes.map((c) => c.key[1]), [more!.id]);
    assert.equal(mirror.digest, mirrorDigest(mirror));
    // The default (unrestricted) target sees both plans.
    const all = (await takeSnapshot(get)).mirror;
    assert.ok(all.keys.has(more!.id) && all.keys.has(s.keyId));
    // Moving the target onto another API changes which keys it holds: deltas cannot say so, a snapshot must.
    assert.equal((await t.admin('PATCH', `/v1/targets/${target.id}`, { apiIds: [s.apiId] })).statusCode, 200);
    const r = await shop(`/v1/keyfeed/deltas?epoch=${mirror.epoch}&since=${mirror.revision}`);
    assert.equal(r.statusCode, 410, r.body);
    const moved = (await takeSnapshot(shop)).mirror;
    assert.ok(moved.keys.has(s.keyId) && !moved.keys.has(more!.id));
    assert.equal(moved.digest, mirrorDigest(moved));
  });

  it('a key moved to another plan leaves one scope and enters another; deltas and digests follow', async () => {
    const api = (await t.admin('POST', '/v1/apis', { name: 'moves', pathPrefix: '/moves' })).json<{ id: string }>();
    const plan = (await t.admin('POST', '/v1/plans', { name: 'moves-plan', limits: [{ requests: 5, per: 'hour' }], apiIds: [api.id] })).json<{ id: string }>();
    const target = (await t.admin('POST', '/v1/targets', { name: 'tollgate-moves', namespace: 'moves', selector: { app: 'moves' }, apiIds: [api.id] }))
      .json<{ reportToken: string }>();
    const moves = validating(injectGet(t.app, target.reportToken));
    const [k] = await bulk(1);
    const mine = (await takeSnapshot(moves)).mirror;
    const all = (await takeSnapshot(get)).mirror;
    assert.ok(!mine.keys.has(k!.id));
    const patched = await t.admin('PATCH', `/v1/keys/${k!.id}`, { planId: plan.id });
    assert.equal(patched.statusCode, 200, patched.body);
    assert.equal(patched.json<{ planId: string }>().planId, plan.id);
    const entered = (await catchUp(moves, mine)).flatMap((p) => p.changes);
    assert.deepEqual(entered.map((c) => [c.op, c.key[1], c.key[3]]), [['add', k!.id, plan.id]]);
    assert.equal(mine.digest, mirrorDigest(mine));
    const seenByAll = (await catchUp(get, all)).flatMap((p) => p.changes);
    assert.deepEqual(seenByAll.map((c) => [c.op, c.key[3]]), [['add', plan.id]], 'one change per key: its latest state');
    assert.equal(all.digest, mirrorDigest(all));
    // And back: it leaves the restricted scope.
    assert.equal((await t.admin('PATCH', `/v1/keys/${k!.id}`, { planId: s.planId })).statusCode, 200);
    const left = (await catchUp(moves, mine)).flatMap((p) => p.changes);
    assert.deepEqual(left.map((c) => [c.op, c.key[1]]), [['revoke', k!.id]]);
    assert.ok(!mine.keys.has(k!.id));
    assert.equal(mine.digest, mirrorDigest(mine));
    // Unknown plan or key; the same plan again changes nothing.
    assert.equal((await t.admin('PATCH', `/v1/keys/${k!.id}`, { planId: 'pln_none' })).statusCode, 422);
    assert.equal((await t.admin('PATCH', '/v1/keys/key_none', { planId: s.planId })).statusCode, 404);
    const head = (await t.app.store.keyFeed.state()).head;
    assert.equal((await t.admin('PATCH', `/v1/keys/${k!.id}`, { planId: s.planId })).statusCode, 200);
    assert.equal((await t.app.store.keyFeed.state()).head, head);
  });

  it('a plan\'s change of APIs sends to a snapshot only the targets whose scope gains or loses it', async () => {
    const [a1, a2, a3] = await Promise.all(['sc-one', 'sc-two', 'sc-three'].map(async (name) =>
      (await t.admin('POST', '/v1/apis', { name, pathPrefix: `/${name}` })).json<{ id: string }>()));
    const plan = (await t.admin('POST', '/v1/plans', { name: 'sc-plan', limits: [{ requests: 5, per: 'hour' }], apiIds: [a1!.id] })).json<{ id: string }>();
    const target = async (name: string, apiIds: string[]): Promise<Get> => validating(injectGet(t.app, (await t.admin('POST', '/v1/targets',
      { name, namespace: name, selector: { app: name }, apiIds })).json<{ reportToken: string }>().reportToken));
    const one = await target('sc-one', [a1!.id]);
    const both = await target('sc-both', [a1!.id, a2!.id]);
    const three = await target('sc-three', [a3!.id]);
    await bulk(2, s.consumerId, plan.id);
    const at = async (get: Get): Promise<{ epoch: string; revision: number }> => (await takeSnapshot(get)).mirror;
    const [mOne, mBoth, mThree, mAll] = await Promise.all([at(one), at(both), at(three), at(get)]);
    // The plan moves from a1 to a2: sc-one loses it; sc-both keeps it; sc-three and the default target are unaffected.
    assert.equal((await t.admin('PATCH', `/v1/plans/${plan.id}`, { apiIds: [a2!.id] })).statusCode, 200);
    const status = async (get: Get, m: { epoch: string; revision: number }): Promise<number> =>
      (await get(`/v1/keyfeed/deltas?epoch=${m.epoch}&since=${m.revision}`)).statusCode;
    assert.equal(await status(one, mOne), 410);
    assert.equal(await status(both, mBoth), 200);
    assert.equal(await status(three, mThree), 200);
    assert.equal(await status(get, mAll), 200);
    assert.equal((await takeSnapshot(one)).mirror.keys.size, 0, 'sc-one no longer holds the plan\'s keys');
  });

  it('refuses requests without a reporter credential of some target', async () => {
    const noToken = await t.app.inject({ method: 'GET', url: '/v1/keyfeed/snapshot' });
    assert.equal(noToken.statusCode, 401);
    assert.match(noToken.headers['content-type'] as string, /problem\+json/);
    for (const token of [ADMIN, 'tgr_not-a-real-credential']) {
      for (const url of ['/v1/keyfeed/snapshot', '/v1/keyfeed/deltas?epoch=00&since=0']) {
        const r = await injectGet(t.app, token)(url);
        assert.equal(r.statusCode, 401, `${token} ${url}`);
      }
    }
    // And the admin API refuses a reporter credential.
    assert.equal((await t.report('POST', '/v1/keys:bulkCreate', { consumerId: s.consumerId, planId: s.planId, count: 1 })).statusCode, 401);
  });

  it('answers 400 problem+json for bad query parameters', async () => {
    const { mirror } = await takeSnapshot(get);
    for (const url of [
      '/v1/keyfeed/snapshot?limit=0', '/v1/keyfeed/snapshot?limit=10001', '/v1/keyfeed/snapshot?after=short',
      '/v1/keyfeed/snapshot?reporter=XYZ', '/v1/keyfeed/snapshot?bogus=1',
      `/v1/keyfeed/deltas?since=${mirror.revision}`, `/v1/keyfeed/deltas?epoch=${mirror.epoch}`,
      `/v1/keyfeed/deltas?epoch=${mirror.epoch}&since=-1`, `/v1/keyfeed/deltas?epoch=${mirror.epoch}&since=abc`,
      `/v1/keyfeed/deltas?epoch=${mirror.epoch}&since=0&wait=31`, `/v1/keyfeed/deltas?epoch=not-hex&since=0`,
    ]) {
      const r = await get(url);
      assert.equal(r.statusCode, 400, `${url}: ${r.body}`);
      assert.match(r.headers['content-type'] as string, /problem\+json/, url);
    }
  });

  it('a long poll wakes on a key change within ~100 ms, and times out with an empty delta', async () => {
    const { mirror } = await takeSnapshot(get);
    const t0 = Date.now();
    const timedOut = (await get(`/v1/keyfeed/deltas?epoch=${mirror.epoch}&since=${mirror.revision}&wait=1`)).json<DeltaPage>();
    const waited = Date.now() - t0;
    assert.ok(waited >= 950 && waited < 3000, `waited ${waited} ms`);
    assert.deepEqual(timedOut.changes, []);
    assert.equal(timedOut.revision, mirror.revision);
    assert.equal(timedOut.digest, mirror.digest);

    const poll = get(`/v1/keyfeed/deltas?epoch=${mirror.epoch}&since=${mirror.revision}&wait=10`);
    await new Promise((r) => setTimeout(r, 200));
    const writeAt = Date.now();
    const revoked = await t.admin('POST', `/v1/keys/${s.keyId}/revoke`);
    assert.equal(revoked.statusCode, 200);
    const d = (await poll).json<DeltaPage>();
    const latency = Date.now() - writeAt;
    assert.ok(latency < 150, `woke ${latency} ms after the write began`);
    assert.deepEqual(d.changes.map((c) => [c.op, c.key[1]]), [['revoke', s.keyId]]);
  });

  it('the schema refuses what the contract forbids (it is not vacuous)', () => {
    const page = { version: 1, kind: 'snapshot', epoch: 'ab', revision: 1, keys: [], next: null, digest: '0000000000000000', fleet: [] };
    assert.ok(validateReply(page));
    assert.ok(!validateReply({ ...page, digest: undefined }), 'the last page needs its digest');
    assert.ok(!validateReply({ ...page, keys: [['short', 'k', 'c', 'p', 0]] }));
    assert.ok(!validateReply({ ...page, next: 'A'.repeat(43) }), 'a page with a next carries no digest');
    assert.ok(!validateReply({ version: 1, kind: 'delta', epoch: 'ab', since: 1, revision: 2, more: false, changes: [{ op: 'delete', key: ['A'.repeat(43), 'k', 'c', 'p', 0] }], digest: '0000000000000000' }));
  });

  it('a change committed between a poll\'s read of the head and its wait still wakes it at once', async () => {
    const { mirror } = await takeSnapshot(get);
    const [k] = await bulk(1);
    await catchUp(get, mirror);
    // Any published change (here an API edit, which moves no key) makes the next poll read the head afresh.
    assert.equal((await t.admin('PATCH', `/v1/apis/${s.apiId}`, { methods: ['GET', 'POST'] })).statusCode, 200);
    const feed = t.app.store.keyFeed;
    const original = feed.state.bind(feed);
    // The poll reads the head, then (before it starts waiting) another request revokes a key.
    feed.state = async (targetId?: string) => {
      const s = await original(targetId);
      feed.state = original;
      await t.admin('POST', `/v1/keys/${k!.id}/revoke`);
      return s;
    };
    try {
      const t0 = Date.now();
      const d = (await get(`/v1/keyfeed/deltas?epoch=${mirror.epoch}&since=${mirror.revision}&wait=5`)).json<DeltaPage>();
      assert.ok(Date.now() - t0 < 1000, `answered after ${Date.now() - t0} ms`);
      assert.deepEqual(d.changes.map((c) => [c.op, c.key[1]]), [['revoke', k!.id]]);
    } finally {
      feed.state = original;
    }
  });

  it('digest from scratch equals the incremental digest after random operations', async () => {
    let seedValue = 12345;
    const rnd = (n: number): number => {
      seedValue = (seedValue * 1103515245 + 12345) % 2 ** 31;
      return seedValue % n;
    };
    const { mirror } = await takeSnapshot(get);
    const live: string[] = [...mirror.keys.keys()];
    for (let i = 0; i < 60; i++) {
      const op = rnd(4);
      if (op === 0 || live.length < 3) live.push(...(await bulk(1 + rnd(3))).map((k) => k.id));
      else if (op === 1) {
        const id = live.splice(rnd(live.length), 1)[0]!;
        await t.admin('POST', `/v1/keys/${id}/revoke`);
      } else if (op === 2) {
        const id = live.splice(rnd(live.length), 1)[0]!;
        const r = await t.admin('POST', `/v1/keys/${id}/rotate`, { gracePeriodSeconds: 60 + rnd(1000) });
        if (r.statusCode === 201) live.push(r.json<{ id: string }>().id, id);
      } else {
        await bulk(1, s.consumerId, s.planId, new Date(Date.now() + (1 + rnd(100)) * 1000).toISOString());
        await t.app.store.keyFeed.sweepExpired(Math.floor(Date.now() / 1000) + rnd(200), 10_000);
      }
      if (i % 10 === 9) {
        await catchUp(get, mirror, 1 + rnd(5));
        const fresh = (await takeSnapshot(get, 1 + rnd(20))).mirror;
        assert.equal(mirror.digest, mirrorDigest(mirror), `step ${i}: the delta's digest is the set's`);
        assert.equal(fresh.digest ?? mirrorDigest(fresh), mirrorDigest(fresh), `step ${i}: the snapshot's digest`);
        assert.equal(mirror.digest, mirrorDigest(fresh), `step ${i}: deltas and snapshot agree`);
      }
    }
  });
});

describe('key feed fleet', () => {
  it('the last snapshot page and a delta adding a key carry what the rest of the fleet counted', async () => {
    const t = await testApp();
    try {
      const s = await seed(t, [{ requests: 100, per: 'hour' }]);
      const get = injectGet(t.app, REPORT);
      const { mirror } = await takeSnapshot(get);
      // Another proxy (reporter OTHER) used the subscription 7 times this hour.
      const other = 'fedcba9876543210';
      const r = await t.report('POST', '/v1/usage/reports', { version: 1, batchId: batchId(), reporter: other, dropped: 0,
        entries: [{ minute: currentMinute(), keyId: s.keyId, apiId: s.apiId, outcome: 'allowed', count: 7 }] });
      assert.equal(r.statusCode, 200, r.body);
      const subscription = `${s.planId}/${s.consumerId}`;
      const last = (await get(`/v1/keyfeed/snapshot?reporter=${REPORTER}`)).json<SnapshotPage>();
      assert.deepEqual(last.fleet?.filter((w) => w.subscription === subscription).map((w) => [w.per, w.others]), [['hour', 7]]);
      // The reporter's own counts are left out.
      const own = (await get(`/v1/keyfeed/snapshot?reporter=${other}`)).json<SnapshotPage>();
      assert.deepEqual(own.fleet?.filter((w) => w.subscription === subscription), []);
      // A new key of the same subscription arrives with the subscription's windows.
      await t.admin('POST', `/v1/consumers/${s.consumerId}/keys`, { planId: s.planId });
      const d = (await get(`/v1/keyfeed/deltas?epoch=${mirror.epoch}&since=${mirror.revision}&reporter=${REPORTER}`)).json<DeltaPage>();
      assert.deepEqual(d.fleet?.map((w) => [w.subscription, w.per, w.others]), [[subscription, 'hour', 7]]);
    } finally {
      await t.close();
    }
  });
});

describe('key feed shutdown', () => {
  it('held long polls are answered at once when the service shuts down', async () => {
    const t = await testApp();
    let closed = false;
    try {
      const get = injectGet(t.app, REPORT);
      const { mirror } = await takeSnapshot(get);
      const poll = get(`/v1/keyfeed/deltas?epoch=${mirror.epoch}&since=${mirror.revision}&wait=30`);
      await new Promise((r) => setTimeout(r, 200));
      const t0 = Date.now();
      const closing = t.close();
      const r = await poll;
      assert.ok(Date.now() - t0 < 2000, `answered ${Date.now() - t0} ms after close began`);
      assert.equal(r.statusCode, 200);
      assert.deepEqual(r.json<DeltaPage>().changes, []);
      await closing;
      closed = true;
    } finally {
      if (!closed) await t.close();
    }
  });
});

describe('key feed epoch', () => {
  it('a replaced history (rebuild with a new epoch) answers 410 to the old epoch; the digest survives', async () => {
    const t = await testApp();
    try {
      await seed(t);
      const get = injectGet(t.app, REPORT);
      const { mirror } = await takeSnapshot(get);
      await t.app.store.keyFeed.rebuild(true);
      const r = await get(`/v1/keyfeed/deltas?epoch=${mirror.epoch}&since=${mirror.revision}`);
      assert.equal(r.statusCode, 410);
      const fresh = (await get('/v1/keyfeed/snapshot')).json<SnapshotPage>();
      assert.notEqual(fresh.epoch, mirror.epoch);
      assert.equal(fresh.revision, 0);
      assert.equal(fresh.digest, mirror.digest);
    } finally {
      await t.close();
    }
  });
});

describe('key feed across restarts and upgrades', { skip: ON_POSTGRES ? 'SQLite file reopened; the PostgreSQL run covers replicas in key-feed-postgres.test.ts' : undefined }, () => {
  it('a restart keeps the epoch and the history: a proxy resumes with deltas', async () => {
    const dir = tempDir();
    const dbPath = join(dir, 'tollgate.db');
    let t = await testApp({ dbPath });
    const s = await seed(t);
    const { mirror } = await takeSnapshot(injectGet(t.app, REPORT));
    await t.admin('POST', `/v1/keys/${s.keyId}/revoke`);
    await t.app.close();
    t = await testApp({ dbPath });
    try {
      const pages = await catchUp(injectGet(t.app, REPORT), mirror);
      assert.deepEqual(pages.flatMap((p) => p.changes).map((c) => [c.op, c.key[1]]), [['revoke', s.keyId]]);
      assert.equal(mirror.digest, mirrorDigest(mirror));
    } finally {
      await t.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keys stored before the feed existed get their digests on the first open after the upgrade', async () => {
    const dir = tempDir();
    const dbPath = join(dir, 'tollgate.db');
    let t = await testApp({ dbPath });
    const s = await seed(t);
    await t.admin('POST', '/v1/keys:bulkCreate', { consumerId: s.consumerId, planId: s.planId, count: 30 });
    const before = (await takeSnapshot(injectGet(t.app, REPORT))).mirror;
    await t.app.close();
    // What migration 006 leaves on a store that already had keys: no plan digests yet.
    const db = new Database(dbPath);
    db.exec('DELETE FROM feed_plan_digests; UPDATE feed_state SET digests_ready = 0;');
    db.close();
    t = await testApp({ dbPath });
    try {
      const after = (await takeSnapshot(injectGet(t.app, REPORT))).mirror;
      assert.equal(after.keys.size, 31);
      assert.equal(after.digest, before.digest);
      assert.equal(after.digest, mirrorDigest(after));
    } finally {
      await t.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
