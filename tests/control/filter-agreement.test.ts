// Whatever REST accepts must compile to a configuration the real filter applies: otherwise one odd API would make
// every proxy refuse every later configuration, revocations included (they keep serving the previous one).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { seed, testApp } from './helpers.js';
import { digestOf } from '../../control/key-material.js';
import { startHost } from '../filter/harness.js';

describe('REST-valid extremes and the real filter', () => {
  it('compile to a configuration every VM of the filter applies', async () => {
    const t = await testApp();
    try {
      const s = await seed(t);
      // Prefixes must be in the filter's normalized form (control/path-prefix.ts): the extremes are escapes.
      const prefixes = ['/a%22b%25c', '/%01%7F', '/%C3%BC%E2%82%AC%F0%9F%98%80', '/a%20b%3Fc%23d', `/${'x'.repeat(1023)}`, "/!$&'()*+,=:@"];
      for (const [i, pathPrefix] of prefixes.entries()) {
        const res = await t.admin('POST', '/v1/apis', { name: `w${i} "quoted" \\ name`, pathPrefix, hosts: ['*.a-b.example.com', 'x'], methods: ['PURGE'] });
        assert.equal(res.statusCode, 201, `${JSON.stringify(pathPrefix)}: ${res.body}`);
      }
      const apis = (await t.admin('GET', '/v1/apis?limit=500')).json<{ items: { id: string }[] }>().items.map((a) => a.id);
      // 16 limits (the most a plan takes): two of one period need ids; scoped ones, shadow or not, on every API.
      const limits = [
        { requests: 2147483647, per: 'second' }, { requests: 1, per: 'month' },
        ...['minute', 'hour', 'day', 'second', 'minute', 'hour'].map((per, i) => ({ requests: 7, per, id: `l${i}:${per}` })),
        ...apis.slice(0, 8).map((apiId, i) => ({ requests: 1000, per: 'day', apiId, ...(i % 2 === 0 ? { shadow: true } : {}) })),
      ];
      assert.equal((await t.admin('PATCH', `/v1/plans/${s.planId}`, { apiIds: apis, limits })).statusCode, 200);
      assert.equal((await t.admin('POST', `/v1/consumers/${s.consumerId}/keys`, { planId: s.planId, expiresAt: '9999-12-31T23:59:59Z' })).statusCode, 201);
      await t.app.distributor.flush();
      // startHost fails if any VM refuses the configuration; then every API must be enforced as configured.
      // Keys come from the key feed, which this host has no control service for: the seeded key is given statically.
      const config = JSON.parse(t.app.distributor.current!.compiled.json) as { keyFeed?: unknown; keys?: unknown[]; plans: { id: string }[] };
      delete config.keyFeed;
      config.keys = [[digestOf(s.key), s.keyId, s.consumerId, config.plans.findIndex((p) => p.id === s.planId)]];
      const { host, logs } = await startHost(JSON.stringify(config));
      try {
        for (const prefix of prefixes) {
          const anon = await host.request({ method: 'PURGE', path: prefix, authority: 'w.a-b.example.com' });
          assert.equal(anon.status, 401, `${prefix.slice(0, 40)}: without a key`);
          // The plan allows 1 request a month: the first is admitted, later ones are quota refusals, never 401/403.
          const keyed = await host.request({ method: 'PURGE', path: prefix, authority: 'x', headers: { 'x-api-key': s.key } });
          assert.equal(keyed.status, prefix === prefixes[0] ? 200 : 429, `${prefix.slice(0, 40)}: with the key`);
        }
        assert.deepEqual(logs.filter((l) => l.level !== 'info' && l.level !== 'debug' && l.level !== 'trace').map((l) => l.message), []);
      } finally {
        await host.close();
      }
    } finally {
      await t.close();
    }
  });
});
