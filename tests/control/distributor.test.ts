import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { Distributor } from '../../control/distribution/distributor.js';
import type { DistributionTarget } from '../../control/distribution/targets/target.js';
import type { Leadership } from '../../control/replicas/leader.js';
import type { Store } from '../../control/store/repository.js';
import type { CatalogSnapshot, CompilableKey, TargetWithCredentials } from '../../control/store/types.js';
import { wasmPluginYaml } from '../../control/distribution/wasmplugin.js';

const defaultTarget: TargetWithCredentials = {
  id: 'default', name: 't', namespace: 'n', selector: null, targetRefs: null, apiIds: [], denyUnmatched: false, passPathForms: [],
  createdAt: 0, updatedAt: 0, reportToken: 'tgr_x', previousReportToken: null, previousValidUntil: null,
};

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The store's policy, optionally with keys beside it (as a store that still read them would pass): never compiled. */
type StoreState = CatalogSnapshot & { keys?: CompilableKey[] };

function fakeStore(): { store: Store; snapshots: number; state: StoreState } {
  const box = { snapshots: 0, state: { apis: [], plans: [], keys: [], targets: [defaultTarget] } as StoreState, store: undefined as unknown as Store };
  box.store = { snapshot: async () => { box.snapshots++; return box.state; } } as unknown as Store;
  return box;
}

class RecordingTarget implements DistributionTarget {
  readonly describe = 'recording';
  readonly shared = true;
  versions: string[] = [];
  failuresLeft = 0;
  async publish(_plugin: unknown, version: string): Promise<void> {
    if (this.failuresLeft > 0) {
      this.failuresLeft--;
      throw new Error('target unavailable');
    }
    this.versions.push(version);
  }
}

function distributor(box: ReturnType<typeof fakeStore>, target: RecordingTarget, debounceMs: number, retryMs = 50): Distributor {
  return new Distributor({
    store: box.store, targets: [target], debounceMs, retryMs, log: Fastify({ logger: { level: 'silent' } }).log,
    plugin: { pluginName: 't', url: 'file:///x.wasm', sha256: undefined, failStrategy: 'FAIL_CLOSE' },
    usage: { cluster: 'c', authority: 'a', intervalMs: 1000, timeoutMs: 1000 },
  });
}

const api = (id: string) => ({ id, name: id, pathPrefix: `/${id}`, hosts: [], methods: [], createdAt: 0, updatedAt: 0 });

describe('Distributor', () => {
  it('coalesces a burst of changes into one compile and publishes only new versions', async () => {
    const box = fakeStore();
    const target = new RecordingTarget();
    const d = distributor(box, target, 30);
    await d.distributeNow();
    assert.equal(target.versions.length, 1);
    for (let i = 0; i < 10; i++) d.schedule();
    await sleep(100);
    assert.equal(box.snapshots, 2, 'one compile for the burst');
    assert.equal(target.versions.length, 1, 'same version is not republished');
    box.state = { ...box.state, apis: [api('api_a')] };
    d.schedule();
    await d.flush();
    assert.equal(target.versions.length, 2);
    assert.equal(d.targetStatuses()[0]!.version, target.versions[1]);
    await d.close();
  });

  it('still distributes within maxWait under a steady stream of changes', async () => {
    const box = fakeStore();
    const target = new RecordingTarget();
    const d = distributor(box, target, 200);
    box.state = { ...box.state, apis: [api('api_b')] };
    // Changes every 50 ms for up to 10 s: a pure debounce would never fire; max wait (1 s) must.
    const until = Date.now() + 10_000;
    while (Date.now() < until && target.versions.length === 0) {
      d.schedule();
      await sleep(50);
    }
    assert.ok(target.versions.length >= 1, 'published although changes never paused for 200 ms');
    await d.close();
  });

  it('keeps the last good state, records the error and retries a failed publish', async () => {
    const box = fakeStore();
    const target = new RecordingTarget();
    target.failuresLeft = 1;
    const d = distributor(box, target, 10, 30);
    await d.distributeNow();
    assert.match(d.targetStatuses()[0]!.error!, /unavailable/);
    assert.equal(target.versions.length, 0);
    await sleep(150);
    await d.flush();
    assert.equal(target.versions.length, 1);
    assert.equal(d.targetStatuses()[0]!.error, null);
    await d.close();
  });
});

function manyKeys(n: number, expiresAt: number | null): CompilableKey[] {
  const keys: CompilableKey[] = [];
  for (let i = 0; i < n; i++) keys.push({ id: `key_${i}`, digest: `${String(i).padStart(10, '0')}${'A'.repeat(33)}`, consumerId: `con_${i % 101}`, planId: 'pln_a', expiresAt });
  return keys;
}

describe('Distributor and keys (the key feed carries them)', () => {
  const plans = [{ id: 'pln_a', name: 'a', limits: [], apiIds: [], createdAt: 0, updatedAt: 0 }];

  it('renders the same WasmPlugin bytes for 0, 1 thousand and 100 thousand keys, and publishes it once', async () => {
    const box = fakeStore();
    const target = new RecordingTarget();
    const d = distributor(box, target, 10);
    box.state = { apis: [api('api_a')], plans, keys: [], targets: [defaultTarget] };
    await d.distributeNow();
    const yaml = wasmPluginYaml(d.current!.wasmPlugin);
    for (const n of [1000, 100_000]) {
      box.state = { ...box.state, keys: manyKeys(n, null) };
      d.schedule();
      await d.flush();
      assert.equal(wasmPluginYaml(d.current!.wasmPlugin), yaml, `${n} keys`);
    }
    assert.equal(target.versions.length, 1, 'key changes publish nothing');
    assert.equal(yaml.includes('AAAAAAAAAA'), false);
    await d.close();
  });

  it('an expiring key schedules no recompile (the filter drops it by expiresAt; the feed sends the expiry)', async () => {
    const box = fakeStore();
    const target = new RecordingTarget();
    const d = distributor(box, target, 10);
    box.state = { apis: [], plans, keys: manyKeys(1, Math.floor(Date.now() / 1000) + 1), targets: [defaultTarget] };
    await d.distributeNow();
    const reads = box.snapshots;
    await sleep(2100);
    assert.equal(box.snapshots, reads, 'no timer-driven recompile');
    assert.equal(target.versions.length, 1);
    await d.close();
  });
});

describe('shutdown with a pending redistribution', () => {
  it('publishes the last change before the store closes', async () => {
    const { testApp } = await import('./helpers.js');
    const { readFileSync, rmSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tempDir } = await import('./helpers.js');
    const out = tempDir();
    const t = await testApp({ distribution: [{ kind: 'dir', path: out }], debounceMs: 10_000 });
    try {
      await t.admin('POST', '/v1/apis', { name: 'late', pathPrefix: '/late' });
    } finally {
      await t.close();
    }
    const yaml = readFileSync(join(out, 'wasmplugin-tollgate.yaml'), 'utf8');
    rmSync(out, { recursive: true, force: true });
    assert.match(yaml, /pathPrefix: \/late/);
    assert.equal(t.logs.join('').includes('"level":50'), false, 'no error logged on close');
  });
});

/** Leadership the test moves by hand. */
class ManualLeader implements Leadership {
  isLeader = false;
  private readonly listeners: ((leader: boolean) => void)[] = [];
  onChange(l: (leader: boolean) => void): void { this.listeners.push(l); }
  set(leader: boolean): void {
    this.isLeader = leader;
    for (const l of this.listeners) l(leader);
  }
  async close(): Promise<void> {}
}

describe('Distributor across replicas', () => {
  it('a follower keeps its own sink current but leaves shared sinks to the leader, and publishes them at once when it leads', async () => {
    const box = fakeStore();
    const shared = new RecordingTarget();
    const own = Object.assign(new RecordingTarget(), { shared: false, describe: 'own' });
    const leadership = new ManualLeader();
    const d = new Distributor({
      store: box.store, targets: [shared, own], debounceMs: 10, log: Fastify({ logger: { level: 'silent' } }).log, leadership,
      plugin: { pluginName: 't', url: 'file:///x.wasm', sha256: undefined, failStrategy: 'FAIL_CLOSE' },
      usage: { cluster: 'c', authority: 'a', intervalMs: 1000, timeoutMs: 1000 },
    });
    await d.distributeNow();
    assert.equal(own.versions.length, 1, 'the replica\'s own sink is published');
    assert.equal(shared.versions.length, 0, 'a follower does not touch the shared sink');
    leadership.set(true);
    for (let i = 0; i < 50 && shared.versions.length === 0; i++) await sleep(10);
    assert.equal(shared.versions.length, 1, 'published on becoming the leader, without waiting for a change');
    leadership.set(false);
    box.state = { ...box.state, apis: [api('api_b')] };
    d.schedule();
    await d.flush();
    assert.equal(shared.versions.length, 1, 'no longer the leader: the shared sink is left alone');
    assert.equal(own.versions.length, 2);
    await d.close();
  });
});
