// Two control replicas on one PostgreSQL database, both running discovery against the same API server: exactly one
// applies (discovery's own advisory lock), and when it goes away the other takes over.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Discovery } from '../../control/discovery/service.js';
import { openPostgresStore, type PostgresStore } from '../../control/store/postgres/index.js';
import { fakeKubeWatch, type FakeKubeWatch } from './fake-kube-watch.js';
import { createTestDatabase, ON_POSTGRES, pgUnavailable, type TestDatabase } from './postgres-fixture.js';

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
// Run in the PostgreSQL stage of scripts/test.mjs (the SQLite stage has nothing to add: one process always leads).
const unavailable = ON_POSTGRES ? await pgUnavailable() : 'PostgreSQL stage only (TOLLGATE_TEST_STORE=postgres)';

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('discovery with two replicas on PostgreSQL', { ...(unavailable !== undefined ? { skip: unavailable } : {}) }, () => {
  let db: TestDatabase;
  let kube: FakeKubeWatch;
  const stores: PostgresStore[] = [];
  const replicas: Discovery[] = [];

  before(async () => {
    db = await createTestDatabase();
    kube = await fakeKubeWatch({ namespaces: ['shop'] });
    for (let i = 0; i < 2; i++) {
      const store = await openPostgresStore({ url: db.url, poolSize: 3 });
      stores.push(store);
      replicas.push(new Discovery({
        store, kubeConfig: kube.kubeConfig(), namespaces: ['shop'], annotationPrefix: 'tollgate.dev/', adopt: false, log: quiet, debounceMs: 10, retryMs: 50,
      }));
    }
  });
  after(async () => {
    for (const r of replicas) await r.close();
    for (const s of stores) await s.close();
    await kube.close();
    await db.drop();
  });

  it('one replica applies; the other takes over when it goes', async () => {
    for (let i = 0; i < 20; i++) kube.apply('shop', { name: `svc-${i}`, annotations: { 'tollgate.dev/expose': 'true' } });
    for (const r of replicas) r.start();
    await until('20 APIs', async () => ((await stores[0]!.discovery.list()).filter((r) => r.apiId !== null && r.desiredHash !== '').length === 20 ? true : undefined));
    const leaders = replicas.filter((r) => r.isLeader);
    assert.equal(leaders.length, 1, 'exactly one replica holds discovery\'s lock');
    const follower = replicas.find((r) => !r.isLeader)!;
    assert.equal(follower.status().syncs, 0, 'the follower applied nothing');
    assert.equal(follower.status().synced, true, 'but it watches, ready to take over');
    const apis = (await stores[0]!.apis.list({ limit: 500, after: undefined })).items;
    assert.equal(apis.length, 20, 'no duplicates');
    // The leader goes away (its lock's session ends).
    await leaders[0]!.close();
    kube.apply('shop', { name: 'late', annotations: { 'tollgate.dev/expose': 'true' } });
    kube.remove('shop', 'svc-0');
    await until('the other replica applied', async () => {
      const names = (await stores[1]!.apis.list({ limit: 500, after: undefined })).items.map((a) => a.name);
      return names.includes('late.shop') && !names.includes('svc-0.shop') ? true : undefined;
    });
    assert.equal(follower.isLeader, true);
    assert.equal((await stores[1]!.apis.list({ limit: 500, after: undefined })).items.length, 20);
  });
});
