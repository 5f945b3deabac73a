// The key feed, filter side (docs/filter.md, "Key feed"): the real wasm in the Envoy-like host, against a stand-in
// control service that speaks the contract (feed-stub.ts). One copy of the set per process in shared data, one
// syncing VM (the lease), revocations seen by every worker, failures survived without a trap.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { FeedKey } from '../../contracts/key-feed.js';
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
    control.keys.clear();
    control.history = [];
    control.revision = 0;
    control.horizon = 0;
    control.epoch = 'ep-1';
    control.mode = 'ok';
    control.modeFor = 'both';
    control.requests = [];
    control.fleet = () => [];
    for (let i = 0; i < 5; i++) control.change('add', fk(`key-${i}`, `key_${i}`, `con_${i}`));
  }

  async function proxy(cfg: TestConfig = feedConfig(), workers = 2, extra: Record<string, unknown> = {}): Promise<Harness> {
    return startHost(cfg, { clusters: control.clusters(), workers, ...extra });
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
});
