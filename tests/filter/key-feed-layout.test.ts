// The bench fills shared data with a million keys from a TypeScript encoder of the feed layout (bench/filter.ts
// encodeFeedSet) instead of a million-key sync. That is only sound if the encoder writes exactly what the filter's own
// sync writes: same bucket keys, same bytes, same meta. Checked here through the real wasm and the Envoy-like host.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { FeedKey } from '../../contracts/key-feed.js';
import { cppHostSharedBytes, encodeFeedSet } from '../../bench/filter.js';
import { digest, startHost } from './harness.js';
import { FEED_CLUSTER, FeedControl } from './feed-stub.js';

const config = {
  version: 1,
  apis: [{ id: 'api_orders', pathPrefix: '/orders' }],
  plans: [{ id: 'pln_gold000001', limits: [], apiIds: ['api_orders'] }],
  usage: { cluster: FEED_CLUSTER, authority: 'ctl', path: '/v1/usage/reports', intervalMs: 1000 },
  keyFeed: { snapshotPath: '/v1/keyfeed/snapshot', deltasPath: '/v1/keyfeed/deltas', waitS: 0, pageKeys: 700, retryMs: 500 },
};

describe('key feed layout: the bench encoder equals the filter\'s writer', () => {
  let control: FeedControl;
  before(async () => { control = new FeedControl(); await control.listen(); });
  after(async () => control.close());

  it('3,000 keys synced in pages of 700: every bucket and the meta byte-equal to encodeFeedSet', async () => {
    for (let i = 0; i < 3000; i++) {
      const k: FeedKey = [digest(`layout-${i}`), `key_${i.toString(36).padStart(10, '0')}`, `con_${(i % 97).toString(36)}`, 'pln_gold000001', i % 3 === 0 ? 0 : 1798761600 + i];
      control.change('add', k);
    }
    const h = await startHost(config, { clusters: control.clusters() });
    try {
      await h.host.advance(1000);
      await h.host.settle();
      const shared = h.host.sharedData('tollgate');
      const meta = shared.get('tg:kf:m');
      assert.ok(meta !== undefined, 'synced');
      const gen = Buffer.from(meta.value).readUInt32LE(4);
      const sorted = [...control.keys.values()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      const expected = encodeFeedSet(sorted, { gen, epoch: control.epoch, revision: control.revision });
      const written = [...shared].filter(([k]) => k.startsWith('tg:kf:') && k !== 'tg:kf:l');
      assert.equal(written.length, expected.size);
      for (const [k, v] of expected) assert.ok(Buffer.from(shared.get(k)?.value ?? []).equals(v), `entry ${k}`);
      assert.equal(Buffer.from(meta.value).subarray(24, 32).toString('hex'), control.digest());
    } finally {
      await h.host.close();
    }
  });

  it('models cpp-host\'s per-entry cost: a 96-byte node and a bucket pointer, plus heap strings past 15 bytes', () => {
    assert.equal(cppHostSharedBytes([['tg:kf:a1', 0]]), 104);
    assert.equal(cppHostSharedBytes([['tg:kf:a1', 15]]), 104);
    assert.equal(cppHostSharedBytes([['tg:kf:a1', 16]]), 104 + 32);
    assert.equal(cppHostSharedBytes([['tg:kf:a1', 300]]), 104 + 320);
  });
});
