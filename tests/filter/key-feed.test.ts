// The key feed, filter side (docs/filter.md, "Key feed"): the real wasm in the Envoy-like host, against a stand-in
// control service that speaks the contract (feed-stub.ts). One copy of the set per process in shared data, one
// syncing VM (the lease), revocations seen by every worker, failures survived without a trap.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { FeedKey } from '../../contracts/key-feed.js';
import type { FailStrategy } from '../../host/index.js';
import { digest, header, startHost, T0, type Harness, type TestConfig } from './harness.js';
import { FEED_CLUSTER, FeedControl } from './feed-stub.js';

const KEY_FEED = { snapshotPath: '/v1/keyfeed/snapshot', deltasPath: '/v1/keyfeed/deltas', waitS: 0, pageKeys: 2, retryMs: 500 };

function feedConfig(opts: { limits?: Array<{ requests: number; per: string }>; keyFeed?: Record<string, unknown>; keys?: unknown[] } = {}): TestConfig {
  const cfg: TestConfig = {
    version: 1,
    apis: [{ id: 'api_orders', pathPrefix: '/orders', methods: ['GET', 'POST'] }],
    plans: [{ id: 'pln_gold', limits: opts.limits ?? [{ requests: 1000, per: 'minute' }], apiIds: ['api_orders'] }],
    keys: opts.keys ?? [],
    usage: { cluster: FEED_CLUSTER, authority: 'ctl.local', path: '/v1/usage/reports', intervalMs: 1000, token: 'Bearer tgr_feed' },
    keyFeed: { ...KEY_FEED, ...opts.keyFeed },
  };
  if (opts.keys === undefined) delete (cfg as Record<string, unknown>).keys;
  return cfg;
}

const fk = (plain: string, keyId: string, consumer = 'con_acme', plan = 'pln_gold', expiresAt = 0): FeedKey =>
  [digest(plain), keyId, consumer, plan, expiresAt];
/** The keys every test starts from: key-0 … key-4, each its own consumer. */
const FIVE_KEYS: FeedKey[] = [0, 1, 2, 3, 4].map((i) => fk(`key-${i}`, `key_${i}`, `con_${i}`));

const get = (h: Harness, key: string, worker?: number) =>
  h.host.request({ method: 'GET', path: '/orders/1', headers: { 'x-api-key': key }, ...(worker === undefined ? {} : { worker }) });

async function tick(h: Harness, n = 1, ms = 1000): Promise<void> {
  for (let i = 0; i < n; i++) {
    await h.host.advance(ms);
    await h.host.settle();
  }
}

function meta(h: Harness): Buffer | undefined {
  const e = h.host.sharedData('tollgate').get('tg:kf:m');
  return e === undefined ? undefined : Buffer.from(e.value);
}

const metaGen = (h: Harness): number => meta(h)?.readUInt32LE(4) ?? 0;
const metaRevision = (h: Harness): number => meta(h)?.readDoubleLE(16) ?? -1;
const metaCount = (h: Harness): number => meta(h)?.readUInt32LE(12) ?? -1;
const metaDigest = (h: Harness): string => meta(h)?.subarray(24, 32).toString('hex') ?? '';

function metric(h: Harness, name: string): number {
  return h.host.metrics().find((m) => m.name === name)?.value ?? 0;
}

describe('key feed: snapshot, deltas, lookups from shared data', () => {
  let control: FeedControl;
  before(async () => { control = new FeedControl(); await control.listen(); });
  after(async () => control.close());

  function reset(): void {
    control.reset(FIVE_KEYS);
  }

  async function proxy(cfg: TestConfig = feedConfig(), workers = 2, extra: Record<string, unknown> = {}, failStrategy?: FailStrategy): Promise<Harness> {
    return startHost(cfg, { clusters: control.clusters(), workers, ...extra }, failStrategy);
  }

  it('denies (401) until the first snapshot, then serves the set on every worker; digest and count match the service', async () => {
    reset();
    const h = await proxy();
    try {
      assert.equal((await get(h, 'key-1', 0)).status, 401, 'no set yet: whenNoKeys deny');
      await tick(h, 2);
      assert.ok(metaGen(h) > 0, 'a snapshot was committed');
      assert.equal(metaRevision(h), control.revision);
      assert.equal(metaCount(h), 5);
      assert.equal(metaDigest(h), control.digest(), 'the incremental digest equals the contract\'s');
      for (const worker of [0, 1]) {
        const r = await get(h, 'key-3', worker);
        assert.equal(r.status, 200);
        assert.equal(header(r.upstreamRequest?.headers ?? [], 'x-tollgate-consumer'), 'con_3');
        assert.equal(header(r.upstreamRequest?.headers ?? [], 'x-tollgate-key-id'), 'key_3');
        assert.equal(header(r.upstreamRequest?.headers ?? [], 'x-tollgate-plan'), 'pln_gold');
      }
      assert.equal((await get(h, 'not-a-key')).status, 401);
      // 5 keys at 2 per page: 3 pages; the cursor and the credential were sent.
      const snaps = control.snapshots();
      assert.equal(snaps.length, 3);
      assert.equal(snaps[0]!.query.get('after'), null);
      assert.equal(snaps[1]!.query.get('after'), snaps[0] && [...control.keys.keys()].sort()[1]);
      assert.equal(snaps[0]!.query.get('limit'), '2');
      assert.match(snaps[0]!.query.get('reporter') ?? '', /^[0-9a-f]{16}$/);
      assert.equal(snaps[0]!.headers.authorization, 'Bearer tgr_feed');
      assert.equal(metric(h, 'tollgate_keyfeed_keys'), 5);
      assert.equal(metric(h, 'tollgate_keyfeed_revision'), control.revision);
    } finally {
      await h.host.close();
    }
  });

  it('applies add, revoke, rotate and expire from deltas; every worker sees a revocation at once', async () => {
    reset();
    const h = await proxy();
    try {
      await tick(h, 2);
      assert.equal((await get(h, 'key-1', 1)).status, 200);
      control.change('revoke', fk('key-1', 'key_1', 'con_1'));
      control.change('add', fk('key-new', 'key_new', 'con_new'));
      control.change('rotate', fk('key-2', 'key_2', 'con_2', 'pln_gold', Math.floor(T0 / 1000) - 10));
      control.change('add', fk('key-3', 'key_3', 'con_3', 'pln_gold', Math.floor(T0 / 1000) + 3600));
      await tick(h, 1);
      for (const worker of [0, 1]) {
        assert.equal((await get(h, 'key-1', worker)).status, 401, 'revoked');
        assert.equal((await get(h, 'key-new', worker)).status, 200, 'added');
        assert.equal((await get(h, 'key-2', worker)).status, 401, 'rotated with a past grace expiry');
        assert.equal((await get(h, 'key-3', worker)).status, 200, 'expiry in the future');
      }
      assert.equal(metaDigest(h), control.digest());
      assert.equal(metaCount(h), control.keys.size);
      control.change('expire', fk('key-new', 'key_new', 'con_new'));
      await tick(h, 1);
      assert.equal((await get(h, 'key-new')).status, 401, 'expired');
      assert.equal(metaDigest(h), control.digest());
    } finally {
      await h.host.close();
    }
  });

  it('a key of a plan this configuration lacks is unknown (401)', async () => {
    reset();
    control.change('add', fk('key-other', 'key_other', 'con_x', 'pln_unknown'));
    const h = await proxy();
    try {
      await tick(h, 2);
      assert.equal((await get(h, 'key-other')).status, 401);
      assert.equal((await get(h, 'key-0')).status, 200);
    } finally {
      await h.host.close();
    }
  });

  it('static keys from the configuration are checked first', async () => {
    reset();
    const h = await proxy(feedConfig({ keys: [[digest('static-key'), 'key_static', 'con_static', 0]] }));
    try {
      const r = await get(h, 'static-key');
      assert.equal(r.status, 200, 'no set yet, but a static key works');
      assert.equal(header(r.upstreamRequest?.headers ?? [], 'x-tollgate-consumer'), 'con_static');
    } finally {
      await h.host.close();
    }
  });

  it('one VM per process syncs (the lease); when it is reloaded another takes over and the set survives the reload', async () => {
    reset();
    const h = await proxy(feedConfig(), 4, { reloadBackoffMs: 0 }, 'FAIL_RELOAD');
    try {
      await tick(h, 4);
      // Five VMs tick (4 workers + main): one snapshot (3 pages), then one deltas poll per tick at most.
      assert.equal(control.snapshots().length, 3, 'a single snapshot for the whole process');
      const reporters = new Set(control.requests.map((r) => r.query.get('reporter')));
      assert.equal(reporters.size, 1);
      const lease = h.host.sharedData('tollgate').get('tg:kf:l');
      assert.ok(lease !== undefined);
      const holderId = Buffer.from(lease.value).subarray(0, 8).toString('hex');
      // Fail every VM: the main thread's and the workers' (whichever holds the lease).
      const { workers, main } = (h.host as unknown as { vms(): { workers: Array<{ markFailed(r: string): void }>; main: { markFailed(r: string): void } } }).vms();
      for (const vm of workers) vm.markFailed('test: killed');
      main.markFailed('test: killed');
      control.mode = 'down';
      // FAIL_RELOAD: the next request on a worker rebuilds its VM; the new VM finds the set in shared data.
      for (let w = 0; w < 4; w++) assert.equal((await get(h, 'key-4', w)).status, 200, `worker ${w} after reload`);
      assert.equal((await get(h, 'key-x')).status, 401);
      control.mode = 'ok';
      control.change('revoke', fk('key-4', 'key_4', 'con_4'));
      const before = control.deltas().length;
      await tick(h, 5); // the old lease expires (3 ticks), a reloaded VM takes it and continues from the meta
      const now = Buffer.from(h.host.sharedData('tollgate').get('tg:kf:l')!.value).subarray(0, 8).toString('hex');
      assert.notEqual(now, holderId, 'another VM holds the lease');
      assert.ok(control.deltas().length > before, 'the new holder resumed with deltas');
      assert.equal(control.snapshots().length, 3, 'no new snapshot: it continued from the meta\'s revision');
      assert.equal((await get(h, 'key-4')).status, 401, 'revocation applied by the new holder');
      assert.equal(metaDigest(h), control.digest());
    } finally {
      await h.host.close();
    }
  });

  it('whenNoKeys allow passes requests unchecked until the first snapshot; deny answers 401', async () => {
    reset();
    control.mode = 'down';
    const allow = await proxy(feedConfig({ keyFeed: { whenNoKeys: 'allow' } }));
    const deny = await proxy(feedConfig());
    try {
      await tick(allow, 2);
      await tick(deny, 2);
      const a = await get(allow, 'anything');
      assert.equal(a.status, 200, 'allow: passed unchecked');
      assert.equal(header(a.upstreamRequest?.headers ?? [], 'x-tollgate-consumer'), undefined, 'no identity asserted');
      assert.equal((await allow.host.request({ method: 'GET', path: '/orders/1' })).status, 200, 'even without a key');
      assert.equal((await get(deny, 'key-1')).status, 401);
      assert.ok(metric(deny, 'tollgate_keyfeed_sync_failures') >= 1);
      control.mode = 'ok';
      await tick(allow, 2);
      assert.equal((await get(allow, 'anything')).status, 401, 'with a set, keys are checked');
      assert.equal((await get(allow, 'key-1')).status, 200);
    } finally {
      await allow.host.close();
      await deny.host.close();
    }
  });

  it('keeps serving its set while the control service is down, and catches up after', async () => {
    reset();
    const h = await proxy();
    try {
      await tick(h, 2);
      control.mode = 'down';
      control.change('revoke', fk('key-0', 'key_0', 'con_0'));
      await tick(h, 5);
      assert.equal((await get(h, 'key-0')).status, 200, 'revoked while down: accepted until the feed resumes');
      assert.equal((await get(h, 'key-1')).status, 200);
      control.mode = 'reset';
      await tick(h, 3);
      assert.equal((await get(h, 'key-1')).status, 200, 'resets survived');
      control.mode = 'ok';
      await tick(h, 2);
      assert.equal((await get(h, 'key-0')).status, 401);
      assert.equal(metaDigest(h), control.digest());
    } finally {
      await h.host.close();
    }
  });

  for (const mode of ['cut', 'garbage', 'oversize'] as const) {
    it(`a ${mode} reply is a failure (retried), never a partial apply or a trap`, async () => {
      reset();
      const h = await proxy();
      try {
        await tick(h, 2);
        const rev = metaRevision(h);
        control.mode = mode;
        control.modeFor = 'deltas';
        control.change('revoke', fk('key-0', 'key_0', 'con_0'));
        control.change('add', fk('key-9', 'key_9', 'con_9'));
        await tick(h, 3);
        assert.equal(metaRevision(h), rev, 'nothing applied');
        assert.equal((await get(h, 'key-0')).status, 200);
        assert.ok(metric(h, 'tollgate_keyfeed_sync_failures') >= 1);
        if (mode === 'oversize') {
          const limits = control.deltas().map((r) => Number(r.query.get('limit')));
          assert.ok(limits.at(-1)! < 2 || limits.at(-1) === 1, `page size halved after an oversize reply: ${limits.join(',')}`);
        }
        control.mode = 'ok';
        await tick(h, 2);
        assert.equal((await get(h, 'key-0')).status, 401);
        assert.equal((await get(h, 'key-9')).status, 200);
        assert.equal(metaDigest(h), control.digest());
        assert.equal(h.host.stats().vmFailures, 0, 'no trap');
      } finally {
        await h.host.close();
      }
    });
  }

  it('a snapshot cut or garbled mid-way is retried from its page; a wrong digest means a fresh snapshot', async () => {
    reset();
    control.mode = 'cut';
    control.modeFor = 'snapshot';
    const h = await proxy();
    try {
      await tick(h, 2);
      assert.equal(metaGen(h), 0, 'no set from a cut snapshot');
      control.mode = 'wrongDigest';
      await tick(h, 2);
      assert.equal(metaGen(h), 0, 'a snapshot whose digest does not match is not committed');
      assert.equal((await get(h, 'key-1')).status, 401);
      control.mode = 'ok';
      await tick(h, 2);
      assert.ok(metaGen(h) > 0);
      assert.equal(metaDigest(h), control.digest());
      assert.equal((await get(h, 'key-1')).status, 200);
      // A delta whose digest does not match ours: fresh snapshot into the other generation, then served.
      const gen = metaGen(h);
      const snaps = control.snapshots().length;
      control.mode = 'wrongDigest';
      control.modeFor = 'deltas';
      control.change('add', fk('key-7', 'key_7', 'con_7'));
      await tick(h, 1);
      control.mode = 'ok';
      await tick(h, 2);
      assert.ok(control.snapshots().length > snaps, 'a fresh snapshot was taken');
      assert.notEqual(metaGen(h), gen);
      assert.notEqual(metaGen(h) & 1, gen & 1, 'written into the other slot');
      assert.equal((await get(h, 'key-7')).status, 200);
      assert.equal(metaDigest(h), control.digest());
      assert.equal(h.host.stats().vmFailures, 0);
    } finally {
      await h.host.close();
    }
  });

  it('a control service restarted with a new epoch (410) or a proxy far behind takes a fresh snapshot', async () => {
    reset();
    const h = await proxy();
    try {
      await tick(h, 2);
      const gen = metaGen(h);
      control.restart('ep-2');
      control.change('revoke', fk('key-2', 'key_2', 'con_2'));
      await tick(h, 2);
      assert.notEqual(metaGen(h), gen, 'new generation');
      assert.equal((await get(h, 'key-2')).status, 401);
      assert.equal(meta(h)!.subarray(44, 48).toString(), 'ep-2');
      // History trimmed past our revision: 410 again.
      control.change('revoke', fk('key-3', 'key_3', 'con_3'));
      control.horizon = control.revision;
      control.history = [];
      await tick(h, 2);
      assert.equal((await get(h, 'key-3')).status, 401);
      assert.equal(metaDigest(h), control.digest());
      // The replaced generation's buckets are emptied over the next ticks (Envoy has no delete).
      await tick(h, 3);
      const slot = (metaGen(h) & 1) === 0 ? 'a' : 'b';
      const other = [...h.host.sharedData('tollgate')].filter(([k, e]) => k.startsWith('tg:kf:') && k.length > 7 && k[6] !== slot && e.value.length > 0);
      assert.deepEqual(other.map(([k]) => k), [], 'the other slot holds no live bucket');
    } finally {
      await h.host.close();
    }
  });

  it('long poll: a change is applied as soon as the service answers, without waiting for a tick', async () => {
    reset();
    const h = await proxy(feedConfig({ keyFeed: { waitS: 5 } }));
    try {
      await tick(h, 2);
      const polls = control.deltas();
      assert.ok(polls.length >= 1);
      assert.equal(polls.at(-1)!.query.get('wait'), '5');
      control.change('revoke', fk('key-1', 'key_1', 'con_1'));
      const deadline = Date.now() + 3000;
      while (metaRevision(h) !== control.revision && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      assert.equal(metaRevision(h), control.revision);
      assert.equal((await get(h, 'key-1')).status, 401);
    } finally {
      await h.host.close();
    }
  });

  it('the snapshot\'s fleet counts are applied at once, and quota stays exact with 4 workers racing (10 seeds)', async () => {
    reset();
    const now = Math.floor(T0 / 1000);
    control.fleet = () => [{ subscription: 'pln_gold/con_1', per: 'hour', windowStart: now - (now % 3600), others: 5 }];
    const LIMIT = 17;
    let seedsWithRaces = 0;
    for (let seed = 1; seed <= 10; seed++) {
      // interleaveSeed: the host runs other workers' streams inside a worker's shared-data calls: real CAS races.
      const h = await proxy(feedConfig({ limits: [{ requests: LIMIT, per: 'hour' }] }), 4, { interleaveSeed: seed });
      try {
        await tick(h, 2);
        assert.ok(h.host.sharedData('tollgate').has('tg:primed'), 'primed by the snapshot');
        const results = await Promise.all(Array.from({ length: 40 }, (_, i) => get(h, 'key-1', i % 4)));
        assert.equal(results.filter((r) => r.status === 200).length, LIMIT - 5, `seed ${seed}: the fleet's 5 count`);
        assert.equal(results.filter((r) => r.status === 429).length, 40 - (LIMIT - 5));
        assert.equal(h.host.stats().vmFailures, 0);
        // A bucket read + the quota entry's read per request; more reads mean CAS writes lost races and retried.
        const reads = results.reduce((a, r) => a + (r.hostCalls.proxy_get_shared_data ?? 0), 0);
        if (reads > results.length * 2) seedsWithRaces++;
      } finally {
        await h.host.close();
      }
    }
    assert.ok(seedsWithRaces >= 3, `races happened under ${seedsWithRaces} seeds only`);
  });

  it('the snapshot\'s scoped fleet windows count against the limits of that scope only (limits that compose)', async () => {
    reset();
    const now = Math.floor(T0 / 1000);
    const hour = now - (now % 3600);
    control.fleet = () => [
      { subscription: 'pln_gold/con_1', per: 'hour', windowStart: hour, others: 7, scope: 'api_orders' },
      { subscription: 'pln_gold/con_1', per: 'hour', windowStart: hour, others: 500, scope: 'api_other' },
    ];
    const cfg = feedConfig({ limits: [{ requests: 1000, per: 'hour' }, { requests: 10, per: 'hour', apiId: 'api_orders' } as { requests: number; per: string }] });
    const h = await proxy(cfg);
    try {
      await tick(h, 2);
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) statuses.push((await get(h, 'key-1')).status);
      assert.deepEqual(statuses, [200, 200, 200, 429], '7 of the API\'s 10 spent by the rest of the fleet');
      const denied = await get(h, 'key-1');
      assert.equal(JSON.parse(new TextDecoder().decode(denied.body)).limit, 'api_orders:hour');
      assert.equal(h.host.stats().vmFailures, 0);
    } finally {
      await h.host.close();
    }
  });

  it('a reconfiguration during a long poll does not stall the sync (the old root context\'s call is not waited for)', async () => {
    reset();
    const h = await proxy(feedConfig({ keyFeed: { waitS: 20 } }));
    try {
      await tick(h, 2);
      const polls = control.deltas().length;
      await h.host.reconfigure(JSON.stringify(feedConfig({ keyFeed: { waitS: 20, pageKeys: 3 } })));
      await h.host.advance(1000);
      await new Promise((r) => setTimeout(r, 50));
      assert.ok(control.deltas().length > polls, 'a new poll went out at the next tick');
      control.change('revoke', fk('key-0', 'key_0', 'con_0'));
      const deadline = Date.now() + 3000;
      while (metaRevision(h) !== control.revision && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      assert.equal((await get(h, 'key-0')).status, 401);
      assert.equal(metaDigest(h), control.digest());
    } finally {
      await h.host.close();
    }
  });

  it('syncing does not grow the syncing VM\'s memory: snapshot after snapshot, the same linear memory', async () => {
    reset();
    for (let i = 0; i < 6000; i++) control.change('add', fk(`bulk-${i}`, `key_b${i}`, `con_b${i % 50}`));
    const h = await proxy(feedConfig({ keyFeed: { pageKeys: 3000 } }));
    const memory = (): number => {
      const { workers, main } = (h.host as unknown as { vms(): { workers: unknown[]; main: unknown } }).vms();
      return [...workers, main].reduce((a: number, vm) => a + (vm as { exports: { memory: { buffer: ArrayBuffer } } }).exports.memory.buffer.byteLength, 0);
    };
    try {
      await tick(h, 2);
      assert.equal(metaCount(h), control.keys.size);
      await tick(h, 4); // the first snapshot's replaced (empty) generation: nothing to clean yet
      const after1 = memory();
      for (let n = 2; n <= 4; n++) {
        control.restart(`ep-${n}`);
        await tick(h, 2);
        assert.equal(meta(h)!.subarray(44, 48).toString(), `ep-${n}`);
        await tick(h, 2); // cleaning the replaced generation
      }
      assert.equal(metaCount(h), control.keys.size);
      assert.equal(memory(), after1, 'three more snapshots of 2 pages each (3,000 bucket reads in one callback): no growth');
    } finally {
      await h.host.close();
    }
  });

  it('a small set grown by 16,000 adds through deltas is re-bucketed (fresh snapshot), without a trap', async () => {
    control.keys.clear();
    control.history = [];
    control.revision = 0;
    control.horizon = 0;
    control.mode = 'ok';
    control.modeFor = 'both';
    control.requests = [];
    control.change('add', fk('key-0', 'key_0', 'con_0'));
    control.change('add', fk('key-1', 'key_1', 'con_1'));
    const h = await proxy(feedConfig({ keyFeed: { pageKeys: 2000 } }));
    try {
      await tick(h, 2);
      assert.equal(meta(h)?.[8], 0, 'two keys: one bucket');
      for (let i = 0; i < 16_000; i++) control.change('add', fk(`grow-${i}`, `key_g${i}`, `con_g${i % 100}`));
      const snaps = control.snapshots().length;
      const started = Date.now();
      await tick(h, 3);
      assert.equal(h.host.stats().vmFailures, 0, 'no trap');
      assert.equal(metaCount(h), control.keys.size);
      assert.equal(metaDigest(h), control.digest());
      const bits = meta(h)?.[8] ?? 0;
      assert.ok(bits >= 11, `re-bucketed: ${bits} bits for ${control.keys.size} keys`);
      assert.equal((await get(h, 'grow-15999')).status, 200);
      assert.equal((await get(h, 'key-1')).status, 200);
      assert.ok(control.snapshots().length > snaps, 'a fresh snapshot rather than 16,000 keys into one bucket');
      // Applied into one ever-growing bucket this took ~7.5 s here (each change rewrites its bucket).
      assert.ok(Date.now() - started < 5_000, `${Date.now() - started} ms`);
    } finally {
      await h.host.close();
    }
  });

  it('corrupt feed entries in shared data are never trusted and never trap; the sync repairs them', async () => {
    reset();
    const h = await proxy();
    const store = (h.host as unknown as { store: { set(vm: string, k: string, v: Uint8Array, cas: number): number } }).store;
    try {
      await tick(h, 2);
      const good = meta(h)!;
      const gen = good.readUInt32LE(4);
      // Every bucket of the served generation replaced by garbage that carries the right generation word.
      for (const [k] of h.host.sharedData('tollgate')) {
        if (!/^tg:kf:[ab][0-9a-f]+$/.test(k)) continue;
        const junk = Buffer.alloc(300, 0xfe);
        junk.writeUInt32LE(gen, 0);
        store.set('tollgate', k, junk, 0);
      }
      for (const w of [0, 1]) assert.equal((await get(h, 'key-1', w)).status, 401, 'garbage buckets: unknown key');
      control.mode = 'down'; // no repair yet
      // A meta with impossible bucket bits: no set at all (and the lookup never builds an oversized key).
      const bad = Buffer.from(good);
      bad[8] = 200;
      store.set('tollgate', 'tg:kf:m', bad, 0);
      await tick(h, 1);
      assert.equal((await get(h, 'key-1')).status, 401);
      store.set('tollgate', 'tg:kf:m', Buffer.from('short'), 0);
      await tick(h, 1);
      assert.equal((await get(h, 'key-1')).status, 401);
      assert.equal(h.host.stats().vmFailures, 0, 'no trap');
      // The holder finds no valid meta: a fresh snapshot into a fresh generation repairs the set.
      control.mode = 'ok';
      control.change('add', fk('key-after', 'key_after', 'con_after'));
      await tick(h, 4);
      assert.equal((await get(h, 'key-1')).status, 200);
      assert.equal((await get(h, 'key-after')).status, 200);
      assert.equal(metaDigest(h), control.digest());
    } finally {
      await h.host.close();
    }
  });
});

// Production timing: usage every 10 s, feed retries after 2 s, long poll. The feed's retries must not wait for the
// usage tick (a revocation made during an outage would otherwise be accepted up to ~10 s after the service is back).
describe('key feed: reconnect on its own schedule (usage.intervalMs 10,000, retryMs 2,000)', () => {
  let control: FeedControl;
  before(async () => { control = new FeedControl(); await control.listen(); });
  after(async () => control.close());

  const STEP = 100;
  /** Virtual steps of STEP ms; a held long poll never settles, so each step waits for other calls briefly only. */
  async function steps(h: Harness, n: number): Promise<void> {
    for (let i = 0; i < n; i++) {
      await h.host.advance(STEP);
      await h.host.settle(60);
    }
  }
  function reset(): void {
    control.reset(FIVE_KEYS);
  }
  function slowConfig(): TestConfig {
    const cfg = feedConfig({ keyFeed: { retryMs: 2000, waitS: 25 } });
    (cfg.usage as { intervalMs: number }).intervalMs = 10_000;
    return cfg;
  }
  /** Cuts every held connection (the held long poll): the filter sees a reset, as when the service dies. */
  function cut(): void { control.server.closeAllConnections(); }
  const leaseId = (h: Harness): string => Buffer.from(h.host.sharedData('tollgate').get('tg:kf:l')!.value).subarray(0, 8).toString('hex');

  it('the first sync starts right after configure, not at the first usage interval', async () => {
    reset();
    const h = await startHost(slowConfig(), { clusters: control.clusters(), workers: 2 });
    try {
      assert.equal((await get(h, 'key-1')).status, 401, 'no set yet');
      await steps(h, 3);
      assert.equal(control.snapshots().length, 3, 'the snapshot (3 pages) within 300 ms');
      assert.equal((await get(h, 'key-1')).status, 200);
      assert.equal(h.host.stats().vmFailures, 0);
    } finally {
      await h.host.close();
    }
  });

  it('a key revoked during an outage is refused within retryMs of the service answering; usage still flushed every 10 s at most', async () => {
    reset();
    const h = await startHost(slowConfig(), { clusters: control.clusters(), workers: 2 });
    let t = 0;
    const reportTimes: number[] = [];
    let reports = control.usageReports;
    // One virtual step: a request (so there is usage to flush), then note when a usage report went out.
    async function step(): Promise<void> {
      await get(h, 'key-1');
      await steps(h, 1);
      t += STEP;
      if (control.usageReports > reports) { reportTimes.push(t); reports = control.usageReports; }
    }
    try {
      for (let i = 0; i < 5; i++) await step();
      assert.equal((await get(h, 'key-0')).status, 200);
      assert.equal(control.deltas().at(-1)?.query.get('wait'), '25', 'a long poll is held');
      // The service dies: the held poll is cut, every reconnect is refused (503) meanwhile.
      control.mode = 'down';
      cut();
      control.change('revoke', fk('key-0', 'key_0', 'con_0'));
      const outageStart = control.deltas().length;
      const retryTimes: number[] = [];
      let seen = outageStart;
      for (let i = 0; i < 150; i++) {
        await step();
        if (control.deltas().length > seen) { retryTimes.push(t); seen = control.deltas().length; }
      }
      assert.equal((await get(h, 'key-0')).status, 200, 'revoked while down: accepted during the outage (fail-static)');
      // 15 s of outage at 1.5–2 s per retry (retryMs minus up to 25 % jitter), not one retry per 10 s tick.
      assert.ok(retryTimes.length >= 7 && retryTimes.length <= 11, `retries in 15 s: ${retryTimes.length}`);
      const gaps = retryTimes.slice(1).map((x, i) => x - retryTimes[i]!);
      for (const g of gaps) assert.ok(g >= 1500 - STEP && g <= 2000 + STEP, `retry gap ${g} ms (${gaps.join(',')})`);
      assert.ok(new Set(gaps).size > 1, `jittered: ${gaps.join(',')}`);
      // The service answers again: the next retry gets the backlog in one delta.
      control.mode = 'ok';
      const back = t;
      while ((await get(h, 'key-0')).status !== 401 && t - back <= 12_000) await step();
      const window = t - back;
      assert.ok(window <= 2000 + STEP, `refused ${window} ms after the service answered again (retryMs 2,000)`);
      assert.equal(metaDigest(h), control.digest());
      // Keep going past a few usage intervals: the faster feed tick must not flush usage more often.
      for (let i = 0; i < 250; i++) await step();
      const flushGaps = reportTimes.slice(1).map((x, i) => x - reportTimes[i]!);
      assert.ok(reportTimes.length >= 4, `usage reports at ${reportTimes.join(',')}`);
      for (const g of flushGaps) assert.ok(g >= 10_000 - STEP, `usage flushed ${g} ms after the previous one (${reportTimes.join(',')})`);
      assert.equal(h.host.stats().vmFailures, 0, 'no trap');
      console.log(`# revoke-after-outage window ${window} ms; retry gaps ${gaps.join(',')} ms; usage reports at ${reportTimes.join(',')} ms`);
    } finally {
      await h.host.close();
    }
  });

  it('a holder retrying fast and VMs ticking every 10 s agree on the lease expiry (wall-clock ms): takeover after 30 s', async () => {
    reset();
    const h = await startHost(slowConfig(), { clusters: control.clusters(), workers: 4, reloadBackoffMs: 0 }, 'FAIL_RELOAD');
    try {
      await steps(h, 5);
      assert.equal((await get(h, 'key-4')).status, 200);
      control.mode = 'down';
      cut();
      await steps(h, 30); // the holder retries every ~2 s, renewing its lease at each retry tick
      const old = leaseId(h);
      const { workers, main } = (h.host as unknown as { vms(): { workers: Array<{ markFailed(r: string): void }>; main: { markFailed(r: string): void } } }).vms();
      for (const vm of workers) vm.markFailed('test: killed');
      main.markFailed('test: killed');
      for (let w = 0; w < 4; w++) assert.equal((await get(h, 'key-4', w)).status, 200, `worker ${w} after reload: the set survived`);
      control.mode = 'ok';
      control.change('revoke', fk('key-4', 'key_4', 'con_4'));
      // The dead holder's last renewal was ≤ 2 s before the kill: its lease (3 × 10 s) still holds at +25 s.
      await steps(h, 250);
      assert.equal(leaseId(h), old, 'not taken before the lease expired');
      assert.equal((await get(h, 'key-4')).status, 200);
      await steps(h, 60); // +31 s: the reloaded VMs' 10 s ticks find it expired
      assert.notEqual(leaseId(h), old, 'another VM took the lease');
      assert.equal((await get(h, 'key-4')).status, 401, 'and resumed from the meta: revocation applied');
      assert.equal(control.snapshots().length, 3, 'no new snapshot');
      assert.equal(h.host.stats().vmFailures, 4 + 1, 'only the VMs the test killed');
    } finally {
      await h.host.close();
    }
  });
});
