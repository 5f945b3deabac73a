// Fleet status through the REST API on the run's backend (SQLite, or PostgreSQL on the second run): usage reports
// carry proxy status, GET /v1/fleet and GET /v1/distribution's convergence read it back, the gauges agree, and a
// silent proxy goes stale, then is forgotten (its row deleted).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ProxyStatus, UsageReport } from '../../contracts/usage-report.js';
import { DEFAULT_TARGET_ID } from '../../control/store/sqlite/targets.js';
import { batchId, seed, testApp, type TestApp } from './helpers.js';

interface FleetItem {
  node: string; target: string; workers: number; configVersion: string; current: boolean; feedEpoch: string | null; feedRevision: number | null;
  feedLag: number; feedSync: string; keys: number | null; lastSeen: string; state: string; flushFailed: number; feedFailed: number; dropped: number;
}
interface Convergence { target: string; version: string | null; proxies: number; current: number; behind: number; stale: number; oldestLaggard: { node: string; configVersion: string; behindSeconds: number } | null }

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function report(proxy: ProxyStatus | undefined, reporter = 'a1b2c3d4e5f60718', extra: Partial<UsageReport> = {}): UsageReport {
  return { version: 1, batchId: batchId(), reporter, entries: [], dropped: 0, ...(proxy === undefined ? {} : { proxy }), ...extra };
}

async function fleet(t: TestApp, query = ''): Promise<{ items: FleetItem[]; staleAfterSeconds: number; forgetAfterSeconds: number }> {
  const r = await t.admin('GET', `/v1/fleet${query}`);
  assert.equal(r.statusCode, 200, r.body);
  return r.json();
}

async function convergence(t: TestApp): Promise<Convergence> {
  const r = await t.admin('GET', '/v1/distribution');
  assert.equal(r.statusCode, 200, r.body);
  return r.json<{ convergence: Convergence[] }>().convergence.find((c) => c.target === DEFAULT_TARGET_ID)!;
}

async function metric(t: TestApp, name: string, labels: string): Promise<number | undefined> {
  const text = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? undefined : Number(line.split(' ').pop());
}

describe('fleet status', () => {
  let t: TestApp;
  let version: string;
  let epoch: string;
  let head: number;

  before(async () => {
    t = await testApp();
    await seed(t);
    await t.app.distributor.flush();
    await t.app.distributor.distributeNow();
    version = (await t.admin('GET', '/v1/distribution')).json<{ version: string }>().version;
    const state = await t.app.store.keyFeed.state();
    epoch = state.epoch;
    head = state.head;
  });
  after(async () => t.close());

  it('compiles configVersion into the configuration: the distribution version is the one proxies report', () => {
    const current = t.app.distributor.currentFor(DEFAULT_TARGET_ID)!;
    assert.equal(current.compiled.config.configVersion, version);
    assert.match(version, /^[0-9a-f]{64}$/);
  });

  it('records a heartbeat (a report with no entries) and lists the node as current', async () => {
    const r = await t.report('POST', '/v1/usage/reports', report({
      node: 'sidecar~10.0.0.1~shop-1.prod~prod.svc.cluster.local', configVersion: version, feedEpoch: epoch, feedRevision: head, keys: 1,
      flushFailed: 2, feedFailed: 1, dropped: 0,
    }));
    assert.equal(r.statusCode, 200, r.body);
    const { items, staleAfterSeconds, forgetAfterSeconds } = await fleet(t);
    assert.equal(staleAfterSeconds, 30, 'default: 3 × the 10 s flush interval');
    assert.equal(forgetAfterSeconds, 3600);
    const item = items.find((i) => i.node.startsWith('sidecar~10.0.0.1'));
    assert.ok(item);
    assert.equal(item.target, DEFAULT_TARGET_ID);
    assert.equal(item.state, 'current');
    assert.equal(item.current, true);
    assert.equal(item.workers, 1);
    assert.equal(item.feedLag, 0);
    assert.equal(item.feedSync, 'synced');
    assert.equal(item.keys, 1);
    assert.equal(item.flushFailed, 2);
    assert.equal(item.feedFailed, 1);
    assert.ok(Math.abs(Date.parse(item.lastSeen) - Date.now()) < 5000);
  });

  it('a node on an old version is behind; convergence, filters and gauges agree', async () => {
    const r = await t.report('POST', '/v1/usage/reports', report({
      node: 'sidecar~10.0.0.2~shop-2.prod~prod.svc.cluster.local', configVersion: 'f'.repeat(64), feedEpoch: epoch, feedRevision: Math.max(0, head - 1),
      flushFailed: 0, feedFailed: 0, dropped: 5,
    }, 'b1b2c3d4e5f60718'));
    assert.equal(r.statusCode, 200, r.body);
    const behind = await fleet(t, '?state=behind');
    assert.equal(behind.items.length, 1);
    assert.equal(behind.items[0]!.configVersion, 'f'.repeat(64));
    assert.equal(behind.items[0]!.current, false);
    assert.equal(behind.items[0]!.feedLag, head > 0 ? 1 : 0);
    assert.equal((await fleet(t, '?target=nope')).items.length, 0);
    const c = await convergence(t);
    assert.equal(c.version, version);
    assert.deepEqual([c.proxies, c.current, c.behind, c.stale], [2, 1, 1, 0]);
    assert.equal(c.oldestLaggard?.node, 'sidecar~10.0.0.2~shop-2.prod~prod.svc.cluster.local');
    assert.equal(c.oldestLaggard?.configVersion, 'f'.repeat(64));
    assert.equal(await metric(t, 'tollgate_fleet_proxies', `target="${DEFAULT_TARGET_ID}",state="current"`), 1);
    assert.equal(await metric(t, 'tollgate_fleet_proxies', `target="${DEFAULT_TARGET_ID}",state="behind"`), 1);
    assert.equal(await metric(t, 'tollgate_fleet_converged_ratio', `target="${DEFAULT_TARGET_ID}"`), 0.5);
    assert.equal(await metric(t, 'tollgate_fleet_proxy_failures', `target="${DEFAULT_TARGET_ID}",kind="dropped"`), 5);
    assert.equal(await metric(t, 'tollgate_fleet_proxy_failures', `target="${DEFAULT_TARGET_ID}",kind="flush"`), 2);
  });

  it('a node with one process behind is behind, whatever its other process runs', async () => {
    const node = 'sidecar~10.0.0.3~shop-3.prod~prod.svc.cluster.local';
    const ok = await t.report('POST', '/v1/usage/reports', report({ node, configVersion: version, flushFailed: 0, feedFailed: 0, dropped: 0 }, 'c1b2c3d4e5f60718'));
    assert.equal(ok.statusCode, 200);
    assert.equal((await fleet(t)).items.find((i) => i.node === node)?.state, 'current');
    const old = await t.report('POST', '/v1/usage/reports', report({ node, configVersion: 'e'.repeat(64), flushFailed: 0, feedFailed: 0, dropped: 0 }, 'c2b2c3d4e5f60718'));
    assert.equal(old.statusCode, 200);
    const item = (await fleet(t)).items.find((i) => i.node === node)!;
    assert.equal(item.state, 'behind');
    assert.equal(item.workers, 2);
    assert.equal(item.configVersion, 'e'.repeat(64));
  });

  it('another epoch is a resnapshot, not a lag', async () => {
    const node = 'sidecar~10.0.0.4~shop-4.prod~prod.svc.cluster.local';
    await t.report('POST', '/v1/usage/reports', report({ node, configVersion: version, feedEpoch: 'abcdef', feedRevision: 0, flushFailed: 0, feedFailed: 0, dropped: 0 }, 'd1b2c3d4e5f60718'));
    const item = (await fleet(t)).items.find((i) => i.node === node)!;
    assert.equal(item.feedSync, 'resnapshot');
    assert.equal(item.feedLag, 0);
  });

  it('a heartbeat is answered without storing a batch; a report with entries and proxy status is stored and recorded', async () => {
    const stored = async () => (await metric(t, 'tollgate_usage_batches_total', 'result="stored"')) ?? 0;
    const before = await stored();
    const beatsBefore = (await metric(t, 'tollgate_usage_batches_total', 'result="heartbeat"')) ?? 0;
    const beat = report({ node: 'hb', configVersion: version, flushFailed: 0, feedFailed: 0, dropped: 0 }, 'f1b2c3d4e5f60718');
    for (let i = 0; i < 2; i++) {
      const r = await t.report('POST', '/v1/usage/reports', beat);
      assert.equal(r.statusCode, 200);
      assert.deepEqual(r.json(), { version: 2, batchId: beat.batchId, duplicate: false, fleet: [], refused: 0 });
    }
    assert.equal(await stored(), before, 'no batch stored for heartbeats');
    assert.equal(await metric(t, 'tollgate_usage_batches_total', 'result="heartbeat"'), beatsBefore + 2, 'counted as heartbeats');
    const minute = Math.floor(Date.now() / 60_000) * 60;
    const withEntries = report({ node: 'hb', configVersion: 'd'.repeat(64), flushFailed: 0, feedFailed: 0, dropped: 0 }, 'f1b2c3d4e5f60718', {
      entries: [{ minute, keyId: '', apiId: '', outcome: 'rejected_auth', count: 2 }],
    });
    const r = await t.report('POST', '/v1/usage/reports', withEntries);
    assert.equal(r.statusCode, 200, r.body);
    assert.equal(await stored(), before + 1);
    assert.equal((await fleet(t)).items.find((i) => i.node === 'hb')?.configVersion, 'd'.repeat(64));
    // A sync report with no entries is not a heartbeat: it is answered by the usage service as before.
    const sync = await t.report('POST', '/v1/usage/reports', report({ node: 'hb', configVersion: version, flushFailed: 0, feedFailed: 0, dropped: 0 }, 'f1b2c3d4e5f60718', { sync: true }));
    assert.equal(sync.statusCode, 200);
    assert.equal(await stored(), before + 2);
  });

  it('a report without proxy status is stored as before and lists nothing new', async () => {
    const beforeCount = (await fleet(t)).items.length;
    const r = await t.report('POST', '/v1/usage/reports', report(undefined, 'e1b2c3d4e5f60718'));
    assert.equal(r.statusCode, 200);
    assert.equal((await fleet(t)).items.length, beforeCount);
  });

  it('refuses malformed proxy status with 400 problem+json, and a bad filter with 400', async () => {
    const base = { node: 'n', flushFailed: 0, feedFailed: 0, dropped: 0 };
    for (const proxy of [
      { ...base, configVersion: 'not a version!' },
      { ...base, flushFailed: -1 },
      { node: 'n', flushFailed: 0, feedFailed: 0 },
      { ...base, node: 'x'.repeat(257) },
      { ...base, extra: 1 },
      { ...base, feedEpoch: 'XYZ' },
    ]) {
      const r = await t.report('POST', '/v1/usage/reports', report(proxy as unknown as ProxyStatus));
      assert.equal(r.statusCode, 400, JSON.stringify(proxy));
      assert.match(String(r.headers['content-type']), /application\/problem\+json/);
    }
    assert.equal((await t.admin('GET', '/v1/fleet?state=lost')).statusCode, 400);
    assert.equal((await t.report('GET', '/v1/fleet')).statusCode, 401, 'the reporter credential does not read the fleet');
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json<{ paths: Record<string, Record<string, { parameters?: { name: string }[] }>> }>();
    assert.deepEqual(doc.paths['/v1/fleet']?.get?.parameters?.map((p) => p.name).sort(), ['state', 'target']);
  });
});

describe('fleet status: stale and forgotten', () => {
  let t: TestApp;
  before(async () => {
    t = await testApp({ staleAfterSeconds: 1, forgetAfterSeconds: 2 });
    await t.app.distributor.distributeNow();
  });
  after(async () => t.close());

  it('marks a silent node stale after staleAfterSeconds, forgets it after forgetAfterSeconds; a heartbeat keeps it current', async () => {
    const version = t.app.distributor.currentFor(DEFAULT_TARGET_ID)!.compiled.version;
    const send = (node: string, reporter: string) => t.report('POST', '/v1/usage/reports', report({ node, configVersion: version, flushFailed: 0, feedFailed: 0, dropped: 0 }, reporter));
    assert.equal((await send('gone', '0000000000000001')).statusCode, 200);
    assert.equal((await send('alive', '0000000000000002')).statusCode, 200);
    await sleep(1300);
    await send('alive', '0000000000000002');
    let items = (await fleet(t)).items;
    assert.equal(items.find((i) => i.node === 'gone')?.state, 'stale');
    assert.equal(items.find((i) => i.node === 'gone')?.workers, 0);
    assert.equal(items.find((i) => i.node === 'alive')?.state, 'current');
    const c = await convergence(t);
    assert.deepEqual([c.proxies, c.current, c.behind, c.stale], [2, 1, 0, 1]);
    assert.equal(await metric(t, 'tollgate_fleet_proxies', `target="${DEFAULT_TARGET_ID}",state="stale"`), 1);
    await sleep(1000);
    await send('alive', '0000000000000002');
    items = (await fleet(t)).items;
    assert.equal(items.find((i) => i.node === 'gone'), undefined, 'forgotten');
    assert.equal(items.find((i) => i.node === 'alive')?.state, 'current');
    // The sweep deleted the row, not only hid it.
    assert.deepEqual((await t.app.store.fleet.all()).map((r) => r.node), ['alive']);
  });
});

describe('fleet status: two replicas on one store', () => {
  let a: TestApp;
  let b: TestApp;
  before(async () => {
    a = await testApp();
    // The second replica opens the first one's store (the same SQLite file, or the same PostgreSQL database).
    b = await testApp({ dbPath: a.dbPath });
    await Promise.all([a.app.distributor.distributeNow(), b.app.distributor.distributeNow()]);
  });
  after(async () => {
    await b.close();
    await a.close();
  });

  it('a report received by one replica is listed by the other, with the same version and convergence', async () => {
    const version = a.app.distributor.currentFor(DEFAULT_TARGET_ID)!.compiled.version;
    assert.equal(b.app.distributor.currentFor(DEFAULT_TARGET_ID)!.compiled.version, version, 'replicas compile the same version');
    const r = await a.report('POST', '/v1/usage/reports', report({ node: 'via-a', configVersion: version, flushFailed: 0, feedFailed: 0, dropped: 0 }, '1111111111111111'));
    assert.equal(r.statusCode, 200);
    const r2 = await b.report('POST', '/v1/usage/reports', report({ node: 'via-b', configVersion: 'c'.repeat(64), flushFailed: 0, feedFailed: 0, dropped: 0 }, '2222222222222222'));
    assert.equal(r2.statusCode, 200);
    for (const t of [a, b]) {
      const items = (await fleet(t)).items;
      assert.deepEqual(items.map((i) => [i.node, i.state]), [['via-a', 'current'], ['via-b', 'behind']]);
      const c = await convergence(t);
      assert.deepEqual([c.proxies, c.current, c.behind], [2, 1, 1]);
    }
  });
});
