// A replica's copy of the fleet counts (control/usage/fleet-cache.ts): replies from memory, own writes at once, other
// replicas' writes after the next load, never a write counted twice, a failed load keeps the last copy.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FleetCache } from '../../control/usage/fleet-cache.js';
import type { FleetAdd, FleetCount } from '../../control/store/repository.js';

const NOW_MS = Date.UTC(2026, 0, 31, 12, 30, 15);
const MINUTE = Math.floor(NOW_MS / 60_000) * 60;
const win = { planId: 'pln_a', consumerId: 'con_a', per: 'minute' as const, windowStart: MINUTE };
const add = (reporter: string, count: number, cap = 100): FleetAdd => ({ ...win, reporter, count, cap });
const row = (reporter: string, count: number): FleetCount => ({ ...win, reporter, count });

/** A cache over a fake table; `gate` holds a load open until released. */
function setup(initial: FleetCount[]) {
  let table = initial;
  let clock = NOW_MS;
  let loads = 0;
  let gate: Promise<void> | undefined;
  let fail = false;
  const cache = new FleetCache({
    refreshMs: 1000,
    clock: () => clock,
    load: async (windows) => {
      loads++;
      assert.ok(windows.some((w) => w.per === 'minute' && w.windowStart === MINUTE), 'loads the current windows');
      const snapshot = [...table];
      await gate;
      if (fail) throw new Error('database down');
      return snapshot;
    },
  });
  return {
    cache,
    set table(rows: FleetCount[]) { table = rows; },
    tick: (ms: number) => { clock += ms; },
    get loads() { return loads; },
    hold: () => { let release!: () => void; gate = new Promise((r) => { release = r; }); return () => { gate = undefined; release(); }; },
    failLoads: (on: boolean) => { fail = on; },
  };
}

describe('fleet cache', () => {
  it('answers every reporter but the asking one from the first load, then from memory until it is stale', async () => {
    const t = setup([row('a', 5), row('b', 7)]);
    assert.deepEqual(await t.cache.others([win], 'a'), [7]);
    assert.deepEqual(await t.cache.others([win, { ...win, consumerId: 'con_unknown' }], 'c'), [12, 0]);
    assert.equal(t.loads, 1);
    t.table = [row('a', 5), row('b', 9)];
    t.tick(500);
    assert.deepEqual(await t.cache.others([win], 'a'), [7], 'another replica\'s write is not seen before the copy is stale');
    t.tick(600);
    await t.cache.others([win], 'a'); // starts the reload in the background
    await t.cache.idle();
    assert.deepEqual(await t.cache.others([win], 'a'), [9]);
    assert.equal(t.loads, 2);
  });

  it('applies this replica\'s stored additions at once, capped per reporter as the store caps them', async () => {
    const t = setup([row('a', 5)]);
    await t.cache.others([win], 'x');
    t.cache.added([add('b', 30, 40)], t.cache.beginWrite());
    assert.deepEqual(await t.cache.others([win], 'a'), [30]);
    t.cache.added([add('b', 30, 40)], t.cache.beginWrite());
    assert.deepEqual(await t.cache.others([win], 'a'), [40], 'b is capped at the plan limit');
    assert.deepEqual(await t.cache.others([win], 'b'), [5]);
  });

  it('replays writes that began during a load, and never counts twice one that the load already holds', async () => {
    const t = setup([row('a', 1)]);
    await t.cache.others([win], 'x');
    t.tick(1000);
    const before = t.cache.beginWrite(); // began before the load: the load's snapshot holds it
    t.table = [row('a', 1), row('b', 4)];
    const release = t.hold();
    const loading = t.cache.refresh();
    const during = t.cache.beginWrite(); // began after the load started: not in its snapshot
    t.cache.added([add('b', 4)], before);
    t.cache.added([add('c', 2)], during);
    release();
    await loading;
    assert.deepEqual(await t.cache.others([win], 'a'), [6], 'b once (from the load), c replayed');
  });

  it('keeps the last copy when a load fails and tries again on the next stale reply', async () => {
    const t = setup([row('a', 3)]);
    await t.cache.others([win], 'x');
    t.failLoads(true);
    t.tick(1500);
    await t.cache.others([win], 'x');
    await t.cache.idle();
    assert.deepEqual(await t.cache.others([win], 'x'), [3]);
    t.failLoads(false);
    t.table = [row('a', 8)];
    await t.cache.idle();
    assert.deepEqual(await t.cache.others([win], 'x'), [3]);
    await t.cache.idle();
    assert.deepEqual(await t.cache.others([win], 'x'), [8]);
    assert.ok(t.loads >= 3);
  });
});
