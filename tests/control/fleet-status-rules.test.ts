// The pure fleet-status rules (control/fleet/state.ts): node state, feed lag, convergence, gauges.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ProxyRow } from '../../control/fleet/repository.js';
import { convergence, fleetGauges, fleetItems, type TargetHead } from '../../control/fleet/state.js';
import { FleetService } from '../../control/fleet/service.js';
import { isHeartbeat } from '../../control/fleet/heartbeat.js';

const NOW = 1_000_000_000;
const STALE = 30_000;
const V2 = 'v2';

function row(p: Partial<ProxyRow> & Pick<ProxyRow, 'node' | 'reporter'>): ProxyRow {
  return {
    targetId: 'default', vm: '', configVersion: V2, versionSince: NOW - 60_000, feedEpoch: 'ep', feedRevision: 10, keys: 3,
    flushFailed: 0, feedFailed: 0, dropped: 0, lastSeen: NOW - 1000, ...p,
  };
}

const heads = new Map<string, TargetHead>([['default', { version: V2, since: NOW - 120_000, feedEpoch: 'ep', feedHead: 12 }]]);

describe('fleet rules', () => {
  it('current, behind and stale nodes', () => {
    const items = fleetItems([
      row({ node: 'a', reporter: 'r1' }),
      row({ node: 'b', reporter: 'r2', configVersion: 'v1' }),
      row({ node: 'c', reporter: 'r3', lastSeen: NOW - STALE - 1 }),
      row({ node: 'd', reporter: 'r4', lastSeen: NOW - STALE }),
    ], heads, NOW, STALE);
    assert.deepEqual(items.map((i) => [i.node, i.state, i.current, i.workers]), [
      ['a', 'current', true, 1], ['b', 'behind', false, 1], ['c', 'stale', true, 0], ['d', 'current', true, 1],
    ]);
  });

  it('a node is as far along as its slowest live process; a stale process does not count', () => {
    const items = fleetItems([
      row({ node: 'a', reporter: 'r1' }),
      row({ node: 'a', reporter: 'r2', configVersion: 'v1', flushFailed: 2 }),
      row({ node: 'a', reporter: 'r3', configVersion: 'v0', lastSeen: NOW - STALE - 5000, flushFailed: 100 }),
    ], heads, NOW, STALE);
    assert.equal(items.length, 1);
    assert.equal(items[0]!.state, 'behind');
    assert.equal(items[0]!.configVersion, 'v1');
    assert.equal(items[0]!.workers, 2);
    assert.equal(items[0]!.flushFailed, 2, 'failure counters summed over live processes only');
  });

  it('per VM: one VM behind makes the node behind; every VM listed in (reporter, vm) order with its own flags and counters', () => {
    const items = fleetItems([
      row({ node: 'a', reporter: 'r1', vm: 'b2', lastSeen: NOW - 500 }),
      row({ node: 'a', reporter: 'r1', vm: 'a1', configVersion: 'v1', lastSeen: NOW - 2000, flushFailed: 4 }),
      row({ node: 'a', reporter: 'r1', vm: 'c3', configVersion: 'v0', lastSeen: NOW - STALE - 1, dropped: 50 }),
    ], heads, NOW, STALE);
    const [a] = items;
    assert.deepEqual([a!.state, a!.workers, a!.configVersion, a!.flushFailed, a!.dropped], ['behind', 2, 'v1', 4, 0]);
    assert.deepEqual(a!.vms.map((v) => [v.vm, v.configVersion, v.current, v.stale, v.flushFailed, v.dropped]), [
      ['a1', 'v1', false, false, 4, 0], ['b2', V2, true, false, 0, 0], ['c3', 'v0', false, true, 0, 50],
    ]);
    assert.equal(a!.lastSeen, NOW - 500, 'the newest report of any VM');
  });

  it('feed lag: head minus the lowest live revision; another epoch → resnapshot with lag 0; no feed → none', () => {
    const items = fleetItems([
      row({ node: 'a', reporter: 'r1', feedRevision: 7 }),
      row({ node: 'a', reporter: 'r2', feedRevision: 11 }),
      row({ node: 'b', reporter: 'r3', feedEpoch: 'other', feedRevision: 500 }),
      row({ node: 'c', reporter: 'r4', feedEpoch: null, feedRevision: null, keys: null }),
      row({ node: 'd', reporter: 'r5', feedRevision: 12 }),
    ], heads, NOW, STALE);
    assert.deepEqual(items.map((i) => [i.node, i.feedLag, i.feedSync]), [['a', 5, 'behind'], ['b', 0, 'resnapshot'], ['c', 0, 'none'], ['d', 0, 'synced']]);
  });

  it('without a compiled version every node is behind (nothing is current yet)', () => {
    const none = new Map<string, TargetHead>([['default', { version: null, since: null, feedEpoch: 'ep', feedHead: 0 }]]);
    const items = fleetItems([row({ node: 'a', reporter: 'r1' })], none, NOW, STALE);
    assert.equal(items[0]!.state, 'behind');
    assert.equal(items[0]!.current, false);
  });

  it('convergence counts nodes per target; the oldest laggard has run its version the longest', () => {
    const items = fleetItems([
      row({ node: 'a', reporter: 'r1', versionSince: NOW - 90_000 }),
      row({ node: 'b', reporter: 'r2', configVersion: 'v1', versionSince: NOW - 500_000 }),
      row({ node: 'c', reporter: 'r3', configVersion: 'v0', versionSince: NOW - 900_000 }),
      row({ node: 'd', reporter: 'r4', lastSeen: NOW - STALE - 1 }),
      row({ node: 'e', reporter: 'r5', targetId: 'other' }),
    ], heads, NOW, STALE);
    const conv = convergence(items, heads, NOW);
    assert.deepEqual(conv.map((c) => c.target), ['default', 'other']);
    const d = conv[0]!;
    assert.deepEqual([d.version, d.proxies, d.current, d.behind, d.stale], [V2, 4, 1, 2, 1]);
    // Behind since v2 became current: the head's since (120 s ago) is older than node a's 90 s.
    assert.deepEqual(d.oldestLaggard, { node: 'c', configVersion: 'v0', lastSeen: NOW - 1000, behindSeconds: 120 });
    const o = conv[1]!;
    assert.equal(o.version, null, 'a target without a head has no version');
    assert.equal(o.behind, 1);
  });

  it('a target with no proxies converges trivially: ratio 1, no laggard', () => {
    const conv = convergence([], heads, NOW);
    assert.deepEqual(conv, [{ target: 'default', version: V2, proxies: 0, current: 0, behind: 0, stale: 0, oldestLaggard: null }]);
    assert.equal(fleetGauges([], conv)[0]!.convergedRatio, 1);
  });

  it('gauges: ratio over live nodes, largest live feed lag, failures summed over live nodes', () => {
    const items = fleetItems([
      row({ node: 'a', reporter: 'r1', feedRevision: 9, dropped: 3, feedFailed: 1 }),
      row({ node: 'b', reporter: 'r2', configVersion: 'v1', feedRevision: 12, dropped: 4 }),
      row({ node: 'c', reporter: 'r3', configVersion: 'v1', lastSeen: NOW - STALE - 1, feedRevision: 0, dropped: 1000 }),
      row({ node: 'd', reporter: 'r4' }),
    ], heads, NOW, STALE);
    const [g] = fleetGauges(items, convergence(items, heads, NOW));
    assert.deepEqual(g!.proxies, { current: 2, behind: 1, stale: 1 });
    assert.equal(g!.convergedRatio, 2 / 3);
    assert.equal(g!.feedLagRevisions, 3);
    assert.deepEqual(g!.failures, { flush: 0, feed: 1, dropped: 7 });
    assert.equal(g!.oldestLagSeconds, 120);
  });

  it('the gauges of one scrape share one store read; the next scrape reads afresh', async () => {
    let reads = 0;
    const repo = {
      record: async (): Promise<void> => {},
      all: async (): Promise<ProxyRow[]> => { reads++; await new Promise((r) => setTimeout(r, 10)); return [row({ node: 'a', reporter: 'r1', lastSeen: Date.now() })]; },
      forgetBefore: async (): Promise<number> => 0,
    };
    const f = new FleetService(repo, { staleAfterSeconds: 30, forgetAfterSeconds: 3600, maxRowsPerTarget: 50_000, heads: async () => new Map([['default', { version: V2, feedEpoch: 'ep', feedHead: 10 }]]) });
    const views = await Promise.all([f.gaugeView(), f.gaugeView(), f.gaugeView(), f.gaugeView(), f.gaugeView()]);
    assert.equal(reads, 1);
    assert.ok(views.every((v) => v === views[0]));
    assert.equal(views[0]!.items[0]!.state, 'current');
    await f.gaugeView();
    assert.equal(reads, 2);
  });

  it('a heartbeat: proxy status, no entries, nothing dropped, not a sync', () => {
    const proxy = { node: 'n', flushFailed: 0, feedFailed: 0, dropped: 0 };
    const entry = { minute: 0, keyId: '', apiId: '', outcome: 'allowed' as const, count: 1 };
    assert.equal(isHeartbeat({ entries: [], dropped: 0, proxy }), true);
    assert.equal(isHeartbeat({ entries: [], dropped: 0 }), false, 'no proxy status: an old filter\'s report, handled as before');
    assert.equal(isHeartbeat({ entries: [entry], dropped: 0, proxy }), false);
    assert.equal(isHeartbeat({ entries: [], dropped: 3, proxy }), false, 'a loss to record');
    assert.equal(isHeartbeat({ entries: [], dropped: 0, sync: true, proxy }), false, 'a sync wants the fleet');
  });
});
