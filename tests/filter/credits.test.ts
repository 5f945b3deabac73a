// Credit balances, filter side (docs/filter.md "Credits"): the real wasm in the Envoy-like host against a stand-in
// control service that serves balances in the key feed (feed-stub.ts). Exhaustion names "credits", refills on the
// virtual clock, grants restart counting, removal (by delta or by a snapshot without the balance) lifts the limit,
// costs spend units, cost 0 reads nothing, the fleet's spend counts, 4 racing workers spend exactly the balance, and a
// digest mismatch over balances resnapshots.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { FeedCredit, FeedKey } from '../../contracts/key-feed.js';
import { digest, header, startHost, T0, type Harness, type TestConfig } from './harness.js';
import { FEED_CLUSTER, FeedControl } from './feed-stub.js';

const KEY_FEED = { snapshotPath: '/v1/keyfeed/snapshot', deltasPath: '/v1/keyfeed/deltas', waitS: 0, pageKeys: 2, retryMs: 500 };
const SINCE = T0 / 1000;
const SUB = 'pln_gold/con_1';

interface Opts { limits?: unknown[]; planShadow?: boolean; extra?: Record<string, unknown> }

/** /orders (one unit a request) and /gh with operations costing 3 and 0; plan pln_gold; keys from the feed. */
function config(opts: Opts = {}): TestConfig {
  return {
    version: 1,
    apis: [
      { id: 'api_orders', pathPrefix: '/orders', methods: ['GET', 'POST'] },
      {
        id: 'api_gh', pathPrefix: '/gh/',
        operations: [
          { id: 'repo_get', method: 'GET', path: '/gh/repos/{repo}', cost: 3 },
          { id: 'meta', method: 'GET', path: '/gh/meta', cost: 0 },
        ],
      },
    ],
    plans: [{
      id: 'pln_gold', limits: opts.limits ?? [{ requests: 1000, per: 'hour' }], apiIds: ['api_orders', 'api_gh'],
      ...(opts.planShadow ? { shadow: true } : {}),
    }],
    usage: { cluster: FEED_CLUSTER, authority: 'ctl.local', path: '/v1/usage/reports', intervalMs: 1000, token: 'Bearer tgr_feed' },
    keyFeed: KEY_FEED,
    ...opts.extra,
  } as unknown as TestConfig;
}

const fk = (plain: string, keyId: string, consumer: string): FeedKey => [digest(plain), keyId, consumer, 'pln_gold', 0];
const KEYS: FeedKey[] = [fk('key-1', 'key_1', 'con_1'), fk('key-1b', 'key_1b', 'con_1'), fk('key-2', 'key_2', 'con_2')];
const credit = (balance: number, grant = 'g1', refillAmount = 0, refillPer: FeedCredit[4] = '', since = SINCE, sub = SUB): FeedCredit =>
  [sub, grant, balance, refillAmount, refillPer, since];

const get = (h: Harness, key = 'key-1', path = '/orders/1', worker?: number) =>
  h.host.request({ method: 'GET', path, headers: { 'x-api-key': key }, ...(worker === undefined ? {} : { worker }) });

async function tick(h: Harness, n = 1, ms = 1000): Promise<void> {
  for (let i = 0; i < n; i++) {
    await h.host.advance(ms);
    await h.host.settle();
  }
}

const limitOf = (body: Uint8Array): string | undefined => (JSON.parse(new TextDecoder().decode(body)) as { limit?: string }).limit;
const metaDigest = (h: Harness): string => {
  const e = h.host.sharedData('tollgate').get('tg:kf:m');
  return e === undefined ? '' : Buffer.from(e.value).subarray(24, 32).toString('hex');
};

/** Statuses of `n` sequential requests. */
async function statuses(h: Harness, n: number, key = 'key-1', path = '/orders/1'): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await get(h, key, path)).status);
  return out;
}

describe('credit balances from the key feed', () => {
  let control: FeedControl;
  before(async () => { control = new FeedControl(); await control.listen(); });
  after(async () => control.close());

  async function proxy(opts: Opts = {}, host: Record<string, unknown> = {}): Promise<Harness> {
    const h = await startHost(config(opts), { clusters: control.clusters(), workers: 2, ...host });
    await tick(h, 2);
    return h;
  }

  it('an exhausted balance is a 429 naming "credits" (legacy headers without a reset); other subscriptions and keys share or skip it', async () => {
    control.reset(KEYS);
    control.creditChange('set', credit(3));
    const h = await proxy();
    try {
      assert.equal(metaDigest(h), control.digest(), 'the filter\'s set digest covers the balance');
      const ok = [await get(h, 'key-1'), await get(h, 'key-1b', '/orders/2', 1), await get(h, 'key-1', '/orders/3', 0)];
      assert.deepEqual(ok.map((r) => r.status), [200, 200, 200], 'two keys of one subscription share its balance');
      assert.deepEqual(ok.map((r) => header(r.headers, 'ratelimit-remaining')), ['2', '1', '0'], 'the balance is the tightest limit');
      assert.equal(header(ok[0]!.headers, 'ratelimit-limit'), '3');
      assert.equal(header(ok[0]!.headers, 'ratelimit-reset'), undefined, 'a balance that never refills has no reset');
      const denied = await get(h, 'key-1');
      assert.equal(denied.status, 429);
      assert.equal(limitOf(denied.body), 'credits');
      assert.equal(header(denied.headers, 'retry-after'), undefined, 'waiting does not help');
      assert.equal(header(denied.headers, 'ratelimit-limit'), '3');
      assert.equal(header(denied.headers, 'ratelimit-remaining'), '0');
      assert.deepEqual(await statuses(h, 3, 'key-2'), [200, 200, 200], 'another subscription has no balance: only its limits');
      assert.equal(header((await get(h, 'key-2')).headers, 'ratelimit-limit'), '1000');
      assert.equal(h.host.stats().vmFailures, 0);
    } finally {
      await h.host.close();
    }
  });

  it('refills at the period boundary (IETF fields with w and t), the balance becoming refillAmount', async () => {
    control.reset(KEYS);
    control.creditChange('set', credit(2, 'g1', 4, 'hour'));
    const h = await proxy({ extra: { rateLimitHeaderStyle: 'ietf' } });
    try {
      const first = await get(h);
      assert.equal(first.status, 200);
      assert.equal(header(first.headers, 'ratelimit-policy'), '"credits";q=2;w=3600');
      assert.equal(header(first.headers, 'ratelimit'), '"credits";r=1;t=3598', '2 s of sync ticks passed');
      assert.equal((await get(h)).status, 200);
      const denied = await get(h);
      assert.equal(denied.status, 429);
      assert.equal(limitOf(denied.body), 'credits');
      assert.equal(header(denied.headers, 'retry-after'), '3598');
      assert.equal(header(denied.headers, 'ratelimit'), '"credits";r=0;t=3598');
      await tick(h, 1, 3600_000);
      assert.deepEqual(await statuses(h, 5), [200, 200, 200, 200, 429], 'refilled to 4, not 2 + 4');
      const after = await get(h);
      assert.equal(header(after.headers, 'ratelimit-policy'), '"credits";q=4;w=3600');
      assert.equal(h.host.stats().vmFailures, 0);
    } finally {
      await h.host.close();
    }
  });

  it('a new grant restarts counting; the same grant in a fresh snapshot keeps what was spent', async () => {
    control.reset(KEYS);
    control.creditChange('set', credit(2));
    const h = await proxy();
    try {
      assert.deepEqual(await statuses(h, 3), [200, 200, 429]);
      // The control service's store replaced (410 → fresh snapshot): same grant, so the spend stands.
      const snaps = control.snapshots().length;
      control.restart('ep-2');
      await tick(h, 3);
      assert.ok(control.snapshots().length > snaps, 'a fresh snapshot was taken');
      assert.equal(metaDigest(h), control.digest());
      assert.equal((await get(h)).status, 429, 'same grant after a snapshot: still exhausted');
      control.creditChange('set', credit(3, 'g2'));
      await tick(h, 1);
      assert.equal(metaDigest(h), control.digest());
      assert.deepEqual(await statuses(h, 4), [200, 200, 200, 429], 'a new grant: counting from 0');
    } finally {
      await h.host.close();
    }
  });

  it('a removed balance lifts the limit: by delta, and by a snapshot that no longer has it', async () => {
    control.reset(KEYS);
    control.creditChange('set', credit(1));
    control.creditChange('set', credit(1, 'g9', 0, '', SINCE, 'pln_gold/con_2'));
    const h = await proxy();
    try {
      assert.deepEqual(await statuses(h, 2), [200, 429]);
      assert.deepEqual(await statuses(h, 2, 'key-2'), [200, 429]);
      control.creditChange('remove', credit(1));
      await tick(h, 1);
      assert.equal(metaDigest(h), control.digest(), 'the removal XORed the balance out');
      const r = await get(h);
      assert.equal(r.status, 200, 'removed by a delta');
      assert.equal(header(r.headers, 'ratelimit-limit'), '1000');
      assert.equal((await get(h, 'key-2')).status, 429, 'the other balance stays');
      // The service's store replaced by one without con_2's balance: the snapshot has none, so after the flip none applies.
      control.credits.delete('pln_gold/con_2');
      control.restart('ep-3');
      await tick(h, 3);
      assert.equal(metaDigest(h), control.digest());
      for (const worker of [0, 1]) assert.equal((await get(h, 'key-2', '/orders/1', worker)).status, 200, `worker ${worker}`);
      assert.equal(h.host.stats().vmFailures, 0);
    } finally {
      await h.host.close();
    }
  });

  it('an operation costing N spends N; cost 0 never reads the balance; a plan without limits still enforces it', async () => {
    control.reset(KEYS);
    control.creditChange('set', credit(7));
    const h = await proxy({ limits: [] });
    try {
      assert.deepEqual(await statuses(h, 3, 'key-1', '/gh/repos/a'), [200, 200, 429], '3 + 3 ≤ 7 < 9');
      const free = await get(h, 'key-1', '/gh/meta');
      assert.equal(free.status, 200);
      assert.equal(free.hostCalls.proxy_get_shared_data, 1, 'the key bucket only: no quota entry read');
      assert.equal(free.hostCalls.proxy_set_shared_data ?? 0, 0);
      const one = await get(h, 'key-1', '/orders/1');
      assert.equal(one.status, 200, 'one unit was left');
      assert.equal(header(one.headers, 'ratelimit-remaining'), '0');
      assert.equal((await get(h, 'key-1', '/orders/1')).status, 429);
      // Without a balance a plan without limits reads its entry and writes nothing.
      const other = await get(h, 'key-2');
      assert.equal(other.status, 200);
      assert.equal(other.hostCalls.proxy_set_shared_data ?? 0, 0);
      assert.equal(header(other.headers, 'ratelimit-limit'), undefined);
    } finally {
      await h.host.close();
    }
  });

  it('the fleet\'s spend counts: from the snapshot, and from a usage reply; a spend for another window is ignored', async () => {
    control.reset(KEYS);
    control.creditChange('set', credit(10, 'g1', 10, 'day'));
    control.creditSpend = () => [
      { subscription: SUB, grant: 'g1', from: SINCE, others: 6 },
      { subscription: 'pln_gold/con_2', grant: 'g1', from: SINCE, others: 100 }, // no balance there: no effect
    ];
    const h = await proxy();
    try {
      assert.equal(header((await get(h)).headers, 'ratelimit-remaining'), '3', '10 − 6 others − 1');
      assert.equal((await get(h, 'key-2')).status, 200);
      // The usage reply carries a newer figure; one naming the previous day's window is not applied.
      control.creditSpend = () => [
        { subscription: SUB, grant: 'g1', from: SINCE, others: 8 },
        { subscription: SUB, grant: 'g1', from: SINCE - 86400, others: 0 },
        { subscription: SUB, grant: 'other', from: SINCE, others: 0 },
      ];
      await tick(h, 2);
      const r = await get(h);
      assert.equal(r.status, 200);
      assert.equal(header(r.headers, 'ratelimit-remaining'), '0', '10 − 8 others − 2');
      assert.equal((await get(h)).status, 429);
      assert.equal(h.host.stats().vmFailures, 0);
    } finally {
      await h.host.close();
    }
  });

  it('a shadow plan admits past the balance, naming "credits" in the shadow header', async () => {
    control.reset(KEYS);
    control.creditChange('set', credit(1));
    const h = await proxy({ planShadow: true, extra: { shadowHeader: 'x-tollgate-shadow' } });
    try {
      const a = await get(h);
      const b = await get(h);
      assert.equal(a.status, 200);
      assert.equal(header(a.upstreamRequest!.headers, 'x-tollgate-shadow'), undefined);
      assert.equal(b.status, 200);
      assert.equal(header(b.upstreamRequest!.headers, 'x-tollgate-shadow'), 'credits');
      assert.equal(h.host.metrics().find((m) => m.name === 'tollgate_would_reject')?.value ?? 0, 0, 'pushed on the tick');
      await tick(h, 1);
      assert.equal(h.host.metrics().find((m) => m.name === 'tollgate_would_reject')?.value, 1);
    } finally {
      await h.host.close();
    }
  });

  it('a snapshot whose credit pages are cut, garbled, refused or oversize changes nothing; the served balance stays enforced', async () => {
    control.reset(KEYS);
    control.creditChange('set', credit(2));
    const h = await proxy();
    try {
      assert.deepEqual(await statuses(h, 3), [200, 200, 429]);
      const digestBefore = metaDigest(h);
      // The service's store replaced (410 → a fresh snapshot) with another grant; its pages fail in turn.
      control.credits.set(SUB, credit(50, 'g5'));
      control.restart('ep-9');
      control.modeFor = 'snapshot';
      for (const mode of ['cut', 'garbage', 'down', 'oversize'] as const) {
        control.mode = mode;
        await tick(h, 2);
        assert.equal(metaDigest(h), digestBefore, `${mode}: nothing applied`);
        for (const worker of [0, 1]) assert.equal((await get(h, 'key-1', '/orders/1', worker)).status, 429, `${mode}: g1 still exhausted`);
      }
      control.mode = 'ok';
      await tick(h, 3);
      assert.equal(metaDigest(h), control.digest(), 'the snapshot completed once the pages came whole');
      assert.deepEqual(await statuses(h, 2), [200, 200], 'the new grant (g5: 50)');
      assert.equal(h.host.stats().vmFailures, 0);
    } finally {
      await h.host.close();
    }
  });

  it('a digest over balances that does not match (a balance changed without a delta) resnapshots', async () => {
    control.reset(KEYS);
    control.creditChange('set', credit(1));
    const h = await proxy();
    try {
      assert.deepEqual(await statuses(h, 2), [200, 429]);
      // The service's balance changes behind the feed's back; the next delta's digest tells the filter.
      control.credits.set(SUB, credit(5, 'g7'));
      const snaps = control.snapshots().length;
      control.change('add', fk('key-3', 'key_3', 'con_3'));
      await tick(h, 3);
      assert.ok(control.snapshots().length > snaps, 'a fresh snapshot after the mismatch');
      assert.equal(metaDigest(h), control.digest());
      assert.deepEqual(await statuses(h, 6), [200, 200, 200, 200, 200, 429], 'the re-read balance (g7: 5)');
    } finally {
      await h.host.close();
    }
  });
});

describe('credit balances: 4 workers racing', () => {
  let control: FeedControl;
  before(async () => { control = new FeedControl(); await control.listen(); });
  after(async () => control.close());

  it('spends exactly the balance under 10 interleaving seeds', async () => {
    const B = 13;
    let seedsWithRaces = 0;
    for (let seed = 1; seed <= 10; seed++) {
      control.reset(KEYS);
      control.creditChange('set', credit(B));
      const h = await startHost(config(), { clusters: control.clusters(), workers: 4, interleaveSeed: seed });
      try {
        await tick(h, 2);
        const results = await Promise.all(Array.from({ length: 40 }, (_, i) => get(h, i % 3 === 0 ? 'key-1b' : 'key-1', `/orders/${i}`, i % 4)));
        const admitted = results.filter((r) => r.status === 200).length;
        assert.equal(admitted, B, `seed ${seed}`);
        const denied = results.filter((r) => r.status === 429);
        assert.equal(denied.length, 40 - B, `seed ${seed}`);
        // Every 429 names credits, but one whose 8 CAS attempts all lost a race (Retry-After 1, no limit: docs/filter.md).
        assert.ok(denied.every((r) => limitOf(r.body) === 'credits' || (limitOf(r.body) === undefined && header(r.headers, 'retry-after') === '1')), `seed ${seed}`);
        assert.equal(h.host.stats().vmFailures, 0);
        // Two reads per request (key bucket, quota entry) without races; more means CAS writes lost and re-read.
        const reads = results.reduce((a, r) => a + (r.hostCalls.proxy_get_shared_data ?? 0), 0);
        if (reads > 2 * results.length) seedsWithRaces++;
      } finally {
        await h.host.close();
      }
    }
    assert.ok(seedsWithRaces >= 5, `races happened under ${seedsWithRaces} seeds only`);
  });
});
