// The key feed with several replicas on one PostgreSQL database: a key write on one wakes long polls on another
// (LISTEN/NOTIFY), and concurrent writers on both produce gap-free revisions a follower never misses.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { DeltaPage } from '../../contracts/key-feed.js';
import { isPostgresStore } from '../../control/store/postgres/index.js';
import { createTestDatabase, pgUnavailable, type TestDatabase } from './postgres-fixture.js';
import { REPORT, seed, testApp, type TestApp } from './helpers.js';
import { catchUp, injectGet, mirrorDigest, takeSnapshot } from './key-feed-client.js';

const unavailable = await pgUnavailable();

describe('key feed on PostgreSQL, two replicas', { skip: unavailable }, () => {
  let db: TestDatabase;
  let a: TestApp;
  let b: TestApp;
  let s: Awaited<ReturnType<typeof seed>>;

  before(async () => {
    db = await createTestDatabase();
    a = await testApp({ dbPath: db.url });
    b = await testApp({ dbPath: db.url });
    s = await seed(a);
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await db?.drop();
  });

  it('a key write on replica A wakes a long poll on replica B promptly', async () => {
    const getB = injectGet(b.app, REPORT);
    const { mirror } = await takeSnapshot(getB);
    assert.ok(mirror.keys.has(s.keyId), 'B reads what A wrote');
    // Give B's LISTEN connection time to be up (it opens in the background at start-up).
    await new Promise((r) => setTimeout(r, 300));
    const poll = getB(`/v1/keyfeed/deltas?epoch=${mirror.epoch}&since=${mirror.revision}&wait=10`);
    await new Promise((r) => setTimeout(r, 200));
    const t0 = Date.now();
    assert.equal((await a.admin('POST', `/v1/keys/${s.keyId}/revoke`)).statusCode, 200);
    const d = (await poll).json<DeltaPage>();
    const latency = Date.now() - t0;
    assert.deepEqual(d.changes.map((c) => [c.op, c.key[1]]), [['revoke', s.keyId]]);
    assert.ok(latency < 500, `B answered ${latency} ms after A's write began`);
  });

  it('concurrent writers on both replicas: revisions are gap-free and a follower misses none', async () => {
    const getB = injectGet(b.app, REPORT);
    const { mirror } = await takeSnapshot(getB);
    let stop = false;
    // A follower on B, catching up continuously while the writers run.
    const follower = (async () => {
      while (!stop) await catchUp(getB, mirror, 7, 1);
    })();
    const writes: Promise<unknown>[] = [];
    for (let i = 0; i < 40; i++) {
      const app = i % 2 === 0 ? a : b;
      writes.push(app.admin('POST', `/v1/consumers/${s.consumerId}/keys`, { planId: s.planId }).then(async (r) => {
        assert.equal(r.statusCode, 201, r.body);
        if (i % 3 === 0) await (i % 4 === 0 ? b : a).admin('POST', `/v1/keys/${r.json<{ id: string }>().id}/revoke`);
      }));
      if (i % 10 === 0) writes.push(app.admin('POST', '/v1/keys:bulkCreate', { consumerId: s.consumerId, planId: s.planId, count: 5 }));
    }
    await Promise.all(writes);
    stop = true;
    await follower;
    await catchUp(getB, mirror);
    const store = a.app.store;
    assert.ok(isPostgresStore(store));
    const revs = (await store.pool.query<{ revision: number }>('SELECT revision FROM key_changes ORDER BY revision')).rows.map((r) => r.revision);
    const head = (await store.keyFeed.state()).head;
    assert.equal(revs.at(-1), head);
    for (let i = 1; i < revs.length; i++) assert.equal(revs[i], revs[i - 1]! + 1, `gap after revision ${revs[i - 1]}`);
    const fresh = (await takeSnapshot(injectGet(a.app, REPORT))).mirror;
    assert.deepEqual([...mirror.keys.keys()].sort(), [...fresh.keys.keys()].sort(), 'the follower holds exactly the set');
    assert.equal(mirror.digest, mirrorDigest(fresh));
  });
});
