// Credit balances end to end between the real parts: the control service (REST, store, key feed, usage ingestion) on
// a loopback port and the real filter on the Envoy-like host, over real HTTP. A balance set over REST is enforced
// (429 "credits"), what the filter spends is reported and comes back as the fleet's spend to a second proxy, a new
// balance (new grant) restores, and a removal lifts it.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { seed, testApp } from '../control/helpers.js';
import { startHost, type Harness } from './harness.js';

interface Compiled { usage: { cluster: string; intervalMs: number }; keyFeed: Record<string, unknown> }

async function tick(h: Harness, n: number, ms = 1000): Promise<void> {
  for (let i = 0; i < n; i++) {
    await h.host.advance(ms);
    await h.host.settle();
  }
}

describe('credit balances through the real control service', () => {
  it('enforces a balance set over REST, shares its spend across proxies, restores with a new grant, lifts on removal', async () => {
    const t = await testApp();
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const port = (t.app.server.address() as AddressInfo).port;
    const proxies: Harness[] = [];
    try {
      const s = await seed(t, [{ requests: 1000, per: 'hour' }]);
      const put = await t.admin('PUT', `/v1/consumers/${s.consumerId}/credits/${s.planId}`, { balance: 5 });
      assert.equal(put.statusCode, 200, put.body);
      await t.app.distributor.flush();
      const compiled = JSON.parse(t.app.distributor.current!.compiled.json) as Compiled;
      // Short polls, so the virtual clock drives the sync (a held long poll would wait in real time).
      compiled.keyFeed = { ...compiled.keyFeed, waitS: 0, retryMs: 500 };
      compiled.usage.intervalMs = 1000;
      const start = async (): Promise<Harness> => {
        const h = await startHost(compiled, { clusters: { [compiled.usage.cluster]: { host: '127.0.0.1', port } }, workers: 2, startTimeMs: Date.now() });
        proxies.push(h);
        await tick(h, 3);
        return h;
      };
      const a = await start();
      const get = (h: Harness) => h.host.request({ method: 'GET', path: '/orders/1', headers: { 'x-api-key': s.key } });
      const statuses = async (h: Harness, n: number) => { const out: number[] = []; for (let i = 0; i < n; i++) out.push((await get(h)).status); return out; };

      assert.deepEqual(await statuses(a, 3), [200, 200, 200]);
      // The spend reaches the control service with the next flush; a second proxy learns it in its snapshot.
      await tick(a, 2);
      const spent = (await t.admin('GET', `/v1/consumers/${s.consumerId}/credits/${s.planId}`)).json<{ spent: number; remaining: number }>();
      assert.deepEqual([spent.spent, spent.remaining], [3, 2], 'the control service counted the reported units');
      const b = await start();
      const rb = await get(b);
      assert.equal(rb.status, 200, 'b: 5 − 3 others − 1');
      assert.equal(rb.headers.find(([k]) => k === 'ratelimit-remaining')?.[1], '1');
      await tick(b, 2);
      assert.equal((await get(a)).status, 200, 'a: the fifth unit fleet-wide (a has not heard of b\'s yet)');
      await tick(a, 2); // a's reply carries b's spend against the grant
      const denied = await get(a);
      assert.equal(denied.status, 429, 'a: exhausted fleet-wide');
      assert.equal((JSON.parse(new TextDecoder().decode(denied.body)) as { limit: string }).limit, 'credits');
      // b last heard 3 others (its snapshot): within one flush of a's traffic it may admit one more — the documented
      // bound — and refuses once its own report's reply brings a's 4.
      assert.equal((await get(b)).status, 200, 'b: the bound (one flush of the other proxy)');
      await tick(b, 2);
      assert.equal((await get(b)).status, 429, 'b: exhausted once it heard of a\'s spend');

      // A new balance is a new grant: counting restarts on both proxies.
      assert.equal((await t.admin('PUT', `/v1/consumers/${s.consumerId}/credits/${s.planId}`, { balance: 2 })).statusCode, 200);
      await tick(a, 2);
      await tick(b, 2);
      assert.equal((await get(a)).status, 200);
      assert.equal((await get(b)).status, 200);

      // Removed: only the plan's limits remain.
      assert.equal((await t.admin('DELETE', `/v1/consumers/${s.consumerId}/credits/${s.planId}`)).statusCode, 204);
      await tick(a, 2);
      await tick(b, 2);
      assert.deepEqual(await statuses(a, 4), [200, 200, 200, 200]);
      assert.equal((await get(b)).headers.find(([k]) => k === 'ratelimit-limit')?.[1], '1000');
      for (const h of proxies) assert.equal(h.host.stats().vmFailures, 0);
    } finally {
      for (const h of proxies) await h.host.close();
      await t.close();
    }
  });
});
