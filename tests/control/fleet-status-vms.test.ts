// Fleet status per VM through the REST API on the run's backend (SQLite, or PostgreSQL on the second run): the VMs of
// one Envoy process (one reporter id) each keep their own row, so a VM behind or failing is not hidden by another VM
// of its process that reported later; reports without `vm` (older filters) keep one row per process; the rows per
// node are bounded; rows stored before migration 017 carry over.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ProxyStatus, UsageReport } from '../../contracts/usage-report.js';
import { MAX_ROWS_PER_NODE } from '../../control/fleet/repository.js';
import { DEFAULT_FLEET_MAX_ROWS_PER_TARGET as MAX, loadSettings, SettingsError } from '../../control/settings.js';
import { DEFAULT_TARGET_ID } from '../../control/store/sqlite/targets.js';
import { batchId, testApp, testStoreUrl, type TestApp } from './helpers.js';
import { storeAtVersion } from './old-store.js';

interface Vm { reporter: string; vm: string; configVersion: string; current: boolean; lastSeen: string; stale: boolean; flushFailed: number; feedFailed: number; dropped: number }
interface FleetItem { node: string; workers: number; configVersion: string; current: boolean; state: string; flushFailed: number; feedFailed: number; dropped: number; lastSeen: string; vms: Vm[] }

const REPORTER = 'a1b2c3d4e5f60718';
const OLD = 'e'.repeat(64);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function status(node: string, configVersion: string, vm: string | undefined, extra: Partial<ProxyStatus> = {}): ProxyStatus {
  return { node, ...(vm === undefined ? {} : { vm }), configVersion, flushFailed: 0, feedFailed: 0, dropped: 0, ...extra };
}

async function send(t: TestApp, proxy: ProxyStatus, reporter = REPORTER): Promise<void> {
  const report: UsageReport = { version: 1, batchId: batchId(), reporter, entries: [], dropped: 0, proxy };
  const r = await t.report('POST', '/v1/usage/reports', report);
  assert.equal(r.statusCode, 200, r.body);
}

async function item(t: TestApp, node: string): Promise<FleetItem | undefined> {
  const r = await t.admin('GET', `/v1/fleet?target=${DEFAULT_TARGET_ID}`);
  assert.equal(r.statusCode, 200, r.body);
  return r.json<{ items: FleetItem[] }>().items.find((i) => i.node === node);
}

const versionOf = (t: TestApp): string => t.app.distributor.currentFor(DEFAULT_TARGET_ID)!.compiled.version;

describe('fleet status per VM', () => {
  let t: TestApp;
  let version: string;
  before(async () => {
    t = await testApp();
    await t.app.distributor.distributeNow();
    version = versionOf(t);
  });
  after(async () => t.close());

  it('a node with one VM behind is behind, though the VMs that reported after it run the current version', async () => {
    const node = 'vm-behind';
    await send(t, status(node, OLD, '0000000a'));
    await send(t, status(node, version, '0000000b'));
    await send(t, status(node, version, '0000000c'));
    const i = (await item(t, node))!;
    assert.equal(i.state, 'behind');
    assert.equal(i.current, false);
    assert.equal(i.configVersion, OLD, 'the laggard VM\'s version');
    assert.equal(i.workers, 3, 'live VMs');
    assert.deepEqual(i.vms.map((v) => [v.reporter, v.vm, v.current, v.stale]), [
      [REPORTER, '0000000a', false, false], [REPORTER, '0000000b', true, false], [REPORTER, '0000000c', true, false],
    ]);
    assert.ok(i.vms.every((v) => Math.abs(Date.parse(v.lastSeen) - Date.now()) < 5000));
    // Once the laggard converges, the node is current.
    await send(t, status(node, version, '0000000a'));
    const after = (await item(t, node))!;
    assert.equal(after.state, 'current');
    assert.equal(after.configVersion, version);
    const conv = (await t.admin('GET', '/v1/distribution')).json<{ convergence: { target: string; behind: number }[] }>().convergence;
    assert.equal(conv.find((c) => c.target === DEFAULT_TARGET_ID)!.behind, 0);
  });

  it('a failing VM is not masked: its counters are listed per VM and summed on the node', async () => {
    const node = 'vm-failing';
    await send(t, status(node, version, '1000000a', { flushFailed: 7, feedFailed: 1, dropped: 40 }));
    await send(t, status(node, version, '1000000b', { flushFailed: 0, feedFailed: 2 }));
    const i = (await item(t, node))!;
    assert.deepEqual([i.flushFailed, i.feedFailed, i.dropped], [7, 3, 40]);
    assert.deepEqual(i.vms.map((v) => [v.vm, v.flushFailed, v.feedFailed, v.dropped]), [['1000000a', 7, 1, 40], ['1000000b', 0, 2, 0]]);
    const metrics = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
    const flush = metrics.split('\n').find((l) => l.startsWith(`tollgate_fleet_proxy_failures{target="${DEFAULT_TARGET_ID}",kind="flush"}`));
    assert.ok(flush !== undefined && Number(flush.split(' ').pop()) >= 7, flush);
  });

  it('VMs of two processes on one node (a hot restart) are all counted', async () => {
    const node = 'vm-two-processes';
    await send(t, status(node, version, '2000000a'), '1111111111111111');
    await send(t, status(node, version, '2000000a'), '2222222222222222');
    await send(t, status(node, version, '2000000b'), '2222222222222222');
    const i = (await item(t, node))!;
    assert.equal(i.workers, 3, 'the same vm id in two processes is two VMs');
    assert.deepEqual(i.vms.map((v) => `${v.reporter.slice(0, 1)}:${v.vm}`), ['1:2000000a', '2:2000000a', '2:2000000b']);
  });

  it('a report without vm (an older filter) keeps one row per process, vm ""; a report with vm adds its own row', async () => {
    const node = 'vm-old-filter';
    await send(t, status(node, OLD, undefined));
    await send(t, status(node, version, undefined));
    let i = (await item(t, node))!;
    assert.deepEqual(i.vms.map((v) => [v.vm, v.configVersion]), [['', version]], 'the process\'s row follows its latest report, as before');
    assert.equal(i.workers, 1);
    assert.equal(i.state, 'current');
    // The filter upgraded in place (same process, same reporter): its VMs report with ids; the old row lives on until stale.
    await send(t, status(node, version, '3000000a'));
    i = (await item(t, node))!;
    assert.deepEqual(i.vms.map((v) => v.vm), ['', '3000000a']);
    assert.equal(i.workers, 2);
  });

  it('refuses a malformed vm with 400 problem+json', async () => {
    for (const vm of ['', 'ABCDEF01', 'g0000000', 'a'.repeat(17), 12345, null]) {
      const report = { version: 1, batchId: batchId(), reporter: REPORTER, entries: [], dropped: 0, proxy: { ...status('vm-bad', version, undefined), vm } };
      const r = await t.report('POST', '/v1/usage/reports', report);
      assert.equal(r.statusCode, 400, JSON.stringify(vm));
      assert.match(String(r.headers['content-type']), /application\/problem\+json/);
    }
    assert.equal(await item(t, 'vm-bad'), undefined, 'nothing recorded');
  });

  it(`keeps at most ${MAX_ROWS_PER_NODE} rows per node, the newest; other nodes are untouched`, async () => {
    const fleet = t.app.store.fleet;
    const node = 'vm-flood';
    const base = Date.now();
    const vmId = (n: number): string => n.toString(16).padStart(8, '0');
    await fleet.record(DEFAULT_TARGET_ID, REPORTER, status('vm-neighbour', version, 'ffffffff'), base, MAX);
    const total = MAX_ROWS_PER_NODE + 20;
    for (let n = 0; n < total; n++) await fleet.record(DEFAULT_TARGET_ID, REPORTER, status(node, version, vmId(n)), base + n, MAX);
    let rows = (await fleet.all()).filter((r) => r.node === node);
    assert.equal(rows.length, MAX_ROWS_PER_NODE);
    assert.deepEqual(rows.map((r) => r.vm).sort(), Array.from({ length: MAX_ROWS_PER_NODE }, (_, k) => vmId(total - MAX_ROWS_PER_NODE + k)), 'the newest kept');
    assert.equal((await fleet.all()).filter((r) => r.node === 'vm-neighbour').length, 1);
    // Updating a kept row trims nothing; a trimmed VM that comes back displaces the oldest.
    await fleet.record(DEFAULT_TARGET_ID, REPORTER, status(node, version, vmId(total - 1)), base + total, MAX);
    assert.equal((await fleet.all()).filter((r) => r.node === node).length, MAX_ROWS_PER_NODE);
    await fleet.record(DEFAULT_TARGET_ID, REPORTER, status(node, version, vmId(0)), base + total + 1, MAX);
    rows = (await fleet.all()).filter((r) => r.node === node);
    assert.equal(rows.length, MAX_ROWS_PER_NODE);
    assert.ok(rows.some((r) => r.vm === vmId(0)));
    assert.ok(!rows.some((r) => r.vm === vmId(total - MAX_ROWS_PER_NODE)), 'the oldest made room');
    // Through the REST API too: the listing stays bounded.
    await send(t, status(node, version, 'abcdef01'));
    const i = (await item(t, node))!;
    assert.equal(i.vms.length, MAX_ROWS_PER_NODE);
    assert.ok(i.vms.some((v) => v.vm === 'abcdef01'));
  });
});

describe('fleet status per VM: a VM gone quiet', () => {
  let t: TestApp;
  before(async () => {
    t = await testApp({ staleAfterSeconds: 1, forgetAfterSeconds: 600 });
    await t.app.distributor.distributeNow();
  });
  after(async () => t.close());

  it('goes stale on its own: the node counts its live VMs only, and a stale laggard no longer holds it behind', async () => {
    const version = versionOf(t);
    const node = 'vm-quiet';
    await send(t, status(node, OLD, '4000000a', { flushFailed: 9 }));
    await send(t, status(node, version, '4000000b'));
    assert.equal((await item(t, node))!.state, 'behind');
    await sleep(1300);
    await send(t, status(node, version, '4000000b'));
    const i = (await item(t, node))!;
    assert.equal(i.state, 'current');
    assert.equal(i.workers, 1);
    assert.equal(i.flushFailed, 0, 'a stale VM\'s counters are not summed');
    assert.deepEqual(i.vms.map((v) => [v.vm, v.stale, v.current, v.flushFailed]), [['4000000a', true, false, 9], ['4000000b', false, true, 0]]);
  });
});

describe('migration 017 (fleet rows per VM)', () => {
  it('rows stored before carry over with vm "", and the process\'s VMs then add their own rows', async () => {
    const place = await testStoreUrl();
    try {
      const now = Date.now();
      await storeAtVersion(place.url, 16, [
        `INSERT INTO fleet_proxies (target_id, node, reporter, config_version, version_since, feed_epoch, feed_revision, keys, flush_failed, feed_failed, dropped, last_seen)
         VALUES ('${DEFAULT_TARGET_ID}', 'old-node', '${REPORTER}', '${OLD}', ${now - 60_000}, NULL, NULL, NULL, 4, 0, 0, ${now})`,
      ]);
      const t = await testApp({ dbPath: place.url });
      try {
        await t.app.distributor.distributeNow();
        let i = (await item(t, 'old-node'))!;
        assert.equal(i.state, 'behind');
        assert.deepEqual(i.vms.map((v) => [v.reporter, v.vm, v.configVersion, v.flushFailed]), [[REPORTER, '', OLD, 4]]);
        await send(t, status('old-node', versionOf(t), '5000000a'));
        i = (await item(t, 'old-node'))!;
        assert.deepEqual(i.vms.map((v) => v.vm), ['', '5000000a']);
        assert.equal(i.state, 'behind', 'the old row is live until stale');
        assert.equal(i.workers, 2);
      } finally {
        await t.close();
      }
    } finally {
      await place.dispose();
    }
  });
});

describe('fleet status: rows per target are bounded', () => {
  let t: TestApp;
  before(async () => {
    t = await testApp({ fleetMaxRowsPerTarget: 40 });
    await t.app.distributor.distributeNow();
  });
  after(async () => t.close());

  it('a flood of made-up node ids keeps the target at its newest fleetMaxRowsPerTarget rows (a leaked reporter credential cannot grow the table)', async () => {
    const version = versionOf(t);
    for (let n = 0; n < 55; n++) await send(t, status(`flood-${String(n).padStart(2, '0')}`, version, '0000000a'));
    const rows = (await t.app.store.fleet.all()).filter((r) => r.targetId === DEFAULT_TARGET_ID);
    assert.equal(rows.length, 40);
    const nodes = rows.map((r) => r.node).sort();
    assert.equal(nodes[0], 'flood-15', 'the oldest made room');
    assert.equal(nodes.at(-1), 'flood-54');
    const r = await t.admin('GET', '/v1/fleet');
    assert.equal(r.statusCode, 200);
    assert.equal(r.json<{ items: unknown[] }>().items.length, 40);
  });

  it('the setting: TOLLGATE_FLEET_MAX_ROWS_PER_TARGET, 50,000 by default, refused out of range', () => {
    assert.equal(loadSettings({}).fleetMaxRowsPerTarget, 50_000);
    assert.equal(loadSettings({ TOLLGATE_FLEET_MAX_ROWS_PER_TARGET: '1000' }).fleetMaxRowsPerTarget, 1000);
    assert.throws(() => loadSettings({ TOLLGATE_FLEET_MAX_ROWS_PER_TARGET: '5' }), SettingsError);
  });
});
