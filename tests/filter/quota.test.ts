// Quota exactness under real CAS races (the host's interleaving scheduler runs other workers' streams inside a
// worker's shared-data calls), fixed windows rolling over on the virtual clock, and quota belonging to the
// subscription (plan + consumer) rather than to a key.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { baseConfig, digest, header, startHost } from './harness.js';

describe('quota exactness with 4 workers racing on one key', () => {
  it('admits exactly the limit for each of 50 interleaving seeds', async () => {
    const LIMIT = 17;
    let seedsWithRaces = 0;
    for (let seed = 1; seed <= 50; seed++) {
      const h = await startHost(baseConfig([{ requests: LIMIT, per: 'hour' }, { requests: 1000, per: 'day' }, { requests: 5000, per: 'month' }]), {
        workers: 4, interleaveSeed: seed,
      });
      try {
        const results = await Promise.all(
          Array.from({ length: 40 }, (_, i) =>
            h.host.request({ method: 'GET', path: '/orders/1', headers: { 'x-api-key': 'key-alpha' }, worker: i % 4 })),
        );
        const admitted = results.filter((r) => r.status === 200).length;
        const limited = results.filter((r) => r.status === 429).length;
        assert.equal(admitted, LIMIT, `seed ${seed}`);
        assert.equal(limited, 40 - LIMIT, `seed ${seed}`);
        assert.equal(h.host.stats().vmFailures, 0);
        // More reads than requests means some CAS writes lost a race and were retried.
        const reads = results.reduce((a, r) => a + (r.hostCalls.proxy_get_shared_data ?? 0), 0);
        if (reads > results.length) seedsWithRaces++;
      } finally {
        await h.host.close();
      }
    }
    assert.ok(seedsWithRaces >= 25, `races happened under ${seedsWithRaces} seeds only`);
  });
});

describe('CAS retries running out', () => {
  it('answers 429 with Retry-After: 1 after 8 lost CAS writes, and counts nothing', async () => {
    const h = await startHost(baseConfig([{ requests: 100, per: 'minute' }]));
    try {
      const call = (): ReturnType<typeof h.host.request> =>
        h.host.request({ method: 'GET', path: '/orders', headers: { 'x-api-key': 'key-alpha' } });
      assert.equal((await call()).status, 200);
      // Simulate a key hammered by other workers: the entry's CAS changes on every read, so every write loses.
      // (sharedData() copies the map, not its entries: this reaches the store's live entry.)
      const entry = h.host.sharedData('tollgate').get('tg:q:pln_gold/con_acme')!;
      const realCas = entry.cas;
      let bumps = 0;
      Object.defineProperty(entry, 'cas', { configurable: true, get: () => realCas + ++bumps });
      const contended = await call();
      assert.equal(contended.status, 429);
      assert.equal(header(contended.headers, 'retry-after'), '1');
      assert.equal(header(contended.headers, 'ratelimit-limit'), undefined, 'no limit decided: no RateLimit-* values');
      assert.equal(contended.hostCalls.proxy_get_shared_data, 8);
      assert.equal(contended.hostCalls.proxy_set_shared_data, 8);
      assert.equal(JSON.parse(new TextDecoder().decode(contended.body)).type, 'urn:tollgate:problem:quota-exceeded');
      Object.defineProperty(entry, 'cas', { configurable: true, writable: true, value: realCas });
      const after = await call();
      assert.equal(after.status, 200);
      assert.equal(header(after.headers, 'ratelimit-remaining'), '98', 'the contended request was not counted');
      assert.equal(h.host.stats().vmFailures, 0);
    } finally {
      await h.host.close();
    }
  });
});

describe('shared-data cost', () => {
  it('three limits cost one get and one set per admitted request', async () => {
    const h = await startHost(baseConfig([{ requests: 10, per: 'second' }, { requests: 100, per: 'hour' }, { requests: 1000, per: 'month' }]));
    try {
      const r = await h.host.request({ method: 'GET', path: '/orders', headers: { 'x-api-key': 'key-alpha' } });
      assert.equal(r.status, 200);
      assert.equal(r.hostCalls.proxy_get_shared_data, 1);
      assert.equal(r.hostCalls.proxy_set_shared_data, 1);
      assert.equal(header(r.headers, 'ratelimit-limit'), '10');
      assert.equal(header(r.headers, 'ratelimit-remaining'), '9');
      assert.equal(header(r.headers, 'ratelimit-reset'), '1');
    } finally {
      await h.host.close();
    }
  });
});

describe('fixed windows on the virtual clock', () => {
  it('a per-second and a per-minute limit roll over at their boundaries', async () => {
    const h = await startHost(baseConfig([{ requests: 2, per: 'second' }, { requests: 5, per: 'minute' }]));
    const call = async (): Promise<number> =>
      (await h.host.request({ method: 'GET', path: '/orders', headers: { 'x-api-key': 'key-alpha' } })).status;
    try {
      assert.deepEqual([await call(), await call(), await call()], [200, 200, 429]);
      await h.host.advance(1000);
      assert.deepEqual([await call(), await call(), await call()], [200, 200, 429]);
      await h.host.advance(1000);
      assert.equal(await call(), 200); // 5th of the minute
      const r = await h.host.request({ method: 'GET', path: '/orders', headers: { 'x-api-key': 'key-alpha' } });
      assert.equal(r.status, 429); // minute exhausted though the second has room
      assert.equal(header(r.headers, 'ratelimit-limit'), '5');
      assert.equal(header(r.headers, 'retry-after'), '58');
      await h.host.advance(58_000);
      assert.equal(await call(), 200);
    } finally {
      await h.host.close();
    }
  });

  it('a month limit resets on the 1st at 00:00 UTC', async () => {
    const h = await startHost(baseConfig([{ requests: 1, per: 'month' }]), { startTimeMs: Date.UTC(2024, 1, 29, 23, 59, 0) });
    try {
      const first = await h.host.request({ method: 'GET', path: '/orders', headers: { 'x-api-key': 'key-alpha' } });
      assert.equal(first.status, 200);
      const second = await h.host.request({ method: 'GET', path: '/orders', headers: { 'x-api-key': 'key-alpha' } });
      assert.equal(second.status, 429);
      assert.equal(header(second.headers, 'retry-after'), '60');
      await h.host.advance(60_000);
      const march = await h.host.request({ method: 'GET', path: '/orders', headers: { 'x-api-key': 'key-alpha' } });
      assert.equal(march.status, 200);
      assert.equal(header(march.headers, 'ratelimit-reset'), String(31 * 86400));
    } finally {
      await h.host.close();
    }
  });

  it('the shared entry does not grow as windows pass', async () => {
    const h = await startHost(baseConfig([{ requests: 10, per: 'second' }]));
    try {
      const sizes = new Set<number>();
      for (let i = 0; i < 5; i++) {
        await h.host.request({ method: 'GET', path: '/orders', headers: { 'x-api-key': 'key-alpha' } });
        await h.host.advance(61_000);
        for (const [k, v] of h.host.sharedData('tollgate')) if (k.startsWith('tg:q:')) sizes.add(v.value.length);
      }
      assert.equal(sizes.size, 1);
      assert.equal([...h.host.sharedData('tollgate').keys()].filter((k) => k.startsWith('tg:q:')).length, 1);
    } finally {
      await h.host.close();
    }
  });
});

describe('quota follows the subscription (plan + consumer), not the key', () => {
  const get = (key: string): { method: string; path: string; headers: Record<string, string> } =>
    ({ method: 'GET', path: '/orders', headers: { 'x-api-key': key } });

  it('a rotated key gets only what its predecessor left: old key used N, new key gets limit - N', async () => {
    const LIMIT = 10, N = 4;
    const cfg = baseConfig([{ requests: LIMIT, per: 'day' }]);
    const h = await startHost(cfg);
    try {
      for (let i = 0; i < N; i++) assert.equal((await h.host.request(get('key-alpha'))).status, 200);
      // Rotation: the new key is added for the same consumer and plan; the old one stays valid for its grace period.
      cfg.keys.push([digest('key-rotated'), 'key_rotated', 'con_acme', 0]);
      await h.host.reconfigure(JSON.stringify(cfg));
      const statuses: number[] = [];
      for (let i = 0; i < LIMIT; i++) statuses.push((await h.host.request(get('key-rotated'))).status);
      assert.deepEqual(statuses, [...Array<number>(LIMIT - N).fill(200), ...Array<number>(N).fill(429)]);
      assert.equal((await h.host.request(get('key-alpha'))).status, 429, 'the old key shares the exhausted quota');
      const entries = [...h.host.sharedData('tollgate').keys()].filter((k) => k.startsWith('tg:q:'));
      assert.deepEqual(entries, ['tg:q:pln_gold/con_acme']);
      const first = await h.host.request(get('key-rotated'));
      assert.equal(header(first.headers, 'ratelimit-remaining'), '0');
    } finally {
      await h.host.close();
    }
  });

  it('two keys of one subscription used at once share one quota, exactly, across workers', async () => {
    const cfg = baseConfig([{ requests: 9, per: 'hour' }]);
    cfg.keys.push([digest('key-beta'), 'key_beta', 'con_acme', 0]);
    const h = await startHost(cfg, { workers: 4, interleaveSeed: 7 });
    try {
      const results = await Promise.all(Array.from({ length: 24 }, (_, i) =>
        h.host.request({ ...get(i % 2 === 0 ? 'key-alpha' : 'key-beta'), worker: i % 4 })));
      assert.equal(results.filter((r) => r.status === 200).length, 9);
    } finally {
      await h.host.close();
    }
  });

  it('another consumer on the same plan, or the same consumer on another plan, has its own quota', async () => {
    const cfg = baseConfig([{ requests: 2, per: 'hour' }]);
    cfg.plans.push({ id: 'pln_silver', limits: [{ requests: 2, per: 'hour' }], apiIds: ['api_orders'] });
    cfg.keys.push([digest('key-other'), 'key_other', 'con_other', 0]);
    cfg.keys.push([digest('key-silver'), 'key_silver', 'con_acme', 1]);
    const h = await startHost(cfg);
    try {
      for (const key of ['key-alpha', 'key-other', 'key-silver']) {
        assert.deepEqual([(await h.host.request(get(key))).status, (await h.host.request(get(key))).status, (await h.host.request(get(key))).status],
          [200, 200, 429], key);
      }
      const entries = [...h.host.sharedData('tollgate').keys()].filter((k) => k.startsWith('tg:q:')).sort();
      assert.deepEqual(entries, ['tg:q:pln_gold/con_acme', 'tg:q:pln_gold/con_other', 'tg:q:pln_silver/con_acme']);
    } finally {
      await h.host.close();
    }
  });
});
