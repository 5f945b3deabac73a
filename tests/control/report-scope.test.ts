// Security finding 3: one report token for every proxy let anyone holding it post any usage. Reporter credentials are
// now scoped per target and every report is validated; each test here failed before that change.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { batchId, currentMinute, seed, testApp, type TestApp } from './helpers.js';
import { CLOCK_SKEW_S, MAX_REPORT_AGE_S } from '../../control/usage/report-rules.js';
import { MAX_ACKS_PER_TARGET } from '../../control/distribution/targets/local.js';

interface Reply { version: number; duplicate: boolean; refused: number; fleet: { subscription: string; per: string; others: number }[] }
interface Usage { totals: Record<string, number> }

const REPORTER = '0123456789abcdef';
const OTHER = 'fedcba9876543210';

describe('usage reports are validated and scoped to the reporting target', () => {
  let t: TestApp;
  let s: Awaited<ReturnType<typeof seed>>;
  let shop: { apiId: string; planId: string; consumerId: string; keyId: string };
  let shopToken: string;
  const asShop = (body: unknown) => t.app.inject({ method: 'POST', url: '/v1/usage/reports', headers: { authorization: `Bearer ${shopToken}` }, payload: body as object });
  const report = (entries: unknown[], extra: Record<string, unknown> = {}) => ({ version: 1, batchId: batchId(), reporter: REPORTER, entries, dropped: 0, ...extra });
  const usageOf = async (q: string): Promise<Usage> => {
    const m = currentMinute();
    return (await t.admin('GET', `/v1/usage?from=${new Date((m - 3 * 86_400) * 1000).toISOString()}&to=${new Date((m + 86_400) * 1000).toISOString()}&granularity=day&${q}`)).json<Usage>();
  };

  before(async () => {
    t = await testApp({ distribution: [{ kind: 'local' }] });
    // The victim: a key on /orders, enforced by the default target (every API).
    s = await seed(t, [{ requests: 100, per: 'hour' }]);
    // A second team: its own API, plan, consumer and key, and a target that enforces only that API.
    const api = (await t.admin('POST', '/v1/apis', { name: 'shop', pathPrefix: '/shop' })).json<{ id: string }>();
    const plan = (await t.admin('POST', '/v1/plans', { name: 'shop-plan', limits: [{ requests: 50, per: 'hour' }], apiIds: [api.id] })).json<{ id: string }>();
    const consumer = (await t.admin('POST', '/v1/consumers', { name: 'shopper' })).json<{ id: string }>();
    const key = (await t.admin('POST', `/v1/consumers/${consumer.id}/keys`, { planId: plan.id })).json<{ id: string }>();
    shop = { apiId: api.id, planId: plan.id, consumerId: consumer.id, keyId: key.id };
    const target = await t.admin('POST', '/v1/targets', { name: 'tollgate-shop', namespace: 'shop', selector: { app: 'shop' }, apiIds: [api.id] });
    assert.equal(target.statusCode, 201, target.body);
    shopToken = target.json<{ reportToken: string }>().reportToken;
  });
  after(async () => t.close());

  it('a target\'s credential cannot report usage for a key or API outside its target (the victim keeps its quota)', async () => {
    const m = currentMinute();
    const res = await asShop(report([
      { minute: m, keyId: s.keyId, apiId: s.apiId, outcome: 'allowed', count: 4294967295 },
      { minute: m, keyId: shop.keyId, apiId: shop.apiId, outcome: 'allowed', count: 2 },
    ]));
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json<Reply>().refused, 1);
    assert.equal((await usageOf(`keyId=${s.keyId}`)).totals.allowed, 0, 'nothing stored for the victim');
    assert.equal((await usageOf(`keyId=${shop.keyId}`)).totals.allowed, 2, 'its own key is counted');
    // The victim's proxies see no fleet usage from the forged report.
    const victim = await t.report('POST', '/v1/usage/reports', report([{ minute: m, keyId: s.keyId, apiId: s.apiId, outcome: 'allowed', count: 1 }], { reporter: OTHER }));
    assert.deepEqual(victim.json<Reply>().fleet.map((f) => f.others), [0]);
  });

  it('refuses keys and APIs that do not exist, and minutes outside the accepted range', async () => {
    const m = currentMinute();
    const res = await t.report('POST', '/v1/usage/reports', report([
      { minute: m, keyId: 'key_doesnotexist', apiId: s.apiId, outcome: 'allowed', count: 5 },
      { minute: m, keyId: s.keyId, apiId: 'api_doesnotexist', outcome: 'rejected_forbidden', count: 5 },
      { minute: 0, keyId: s.keyId, apiId: s.apiId, outcome: 'rejected_quota', count: 5 },
      { minute: m - MAX_REPORT_AGE_S - 60, keyId: s.keyId, apiId: s.apiId, outcome: 'rejected_quota', count: 5 },
      { minute: Date.UTC(2100, 0, 1) / 1000, keyId: s.keyId, apiId: s.apiId, outcome: 'rejected_quota', count: 5 },
      { minute: m + CLOCK_SKEW_S + 60, keyId: s.keyId, apiId: s.apiId, outcome: 'rejected_quota', count: 5 },
      { minute: m + 60, keyId: s.keyId, apiId: s.apiId, outcome: 'rejected_quota', count: 1 },
    ]));
    assert.equal(res.statusCode, 200);
    assert.equal(res.json<Reply>().refused, 6);
    const u = await t.admin('GET', `/v1/usage?from=1970-01-01T00:00:00Z&to=2101-01-01T00:00:00Z&granularity=day&keyId=${s.keyId}`);
    // The range is too wide for one query: ask the two windows that matter.
    assert.equal(u.statusCode, 400);
    assert.equal((await usageOf(`keyId=${s.keyId}`)).totals.rejectedQuota, 1, 'only the entry one minute ahead (within the skew allowance) is stored');
    const old = (await t.admin('GET', '/v1/usage?from=1970-01-01T00:00:00Z&to=1970-01-02T00:00:00Z&granularity=hour')).json<Usage>();
    assert.equal(old.totals.rejectedQuota, 0);
  });

  it('refuses whole reports no correct filter sends (422): status above count, status on a rejection, huge dropped, duplicates', async () => {
    const m = currentMinute();
    const good = { minute: m, keyId: s.keyId, apiId: s.apiId, outcome: 'allowed', count: 3 };
    for (const body of [
      report([{ ...good, status: { '2xx': 3, '5xx': 1 } }]),
      report([{ ...good, outcome: 'rejected_auth', status: { '2xx': 1 } }]),
      report([good], { dropped: 4294967295 }),
      report([good, { ...good }]),
    ]) {
      const before = (await usageOf(`keyId=${s.keyId}`)).totals.allowed;
      const res = await t.report('POST', '/v1/usage/reports', body);
      assert.equal(res.statusCode, 422, JSON.stringify(body));
      assert.match(res.headers['content-type'] as string, /problem\+json/);
      assert.equal((await usageOf(`keyId=${s.keyId}`)).totals.allowed, before, 'nothing stored');
    }
    const metrics = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
    assert.doesNotMatch(metrics, /tollgate_usage_dropped_total 4294967295/);
  });

  it('caps a reporter\'s fleet count at the plan\'s limit for the window', async () => {
    const m = currentMinute();
    await asShop(report([{ minute: m, keyId: shop.keyId, apiId: shop.apiId, outcome: 'allowed', count: 1_000_000 }], { reporter: OTHER }));
    const res = await asShop(report([{ minute: m, keyId: shop.keyId, apiId: shop.apiId, outcome: 'allowed', count: 1 }]));
    const hour = res.json<Reply>().fleet.find((f) => f.per === 'hour')!;
    assert.equal(hour.others, 50, 'no more than the hourly limit a correct filter could admit');
  });

  it('a sync report gets every subscription of its scope with counts, and nothing outside it', async () => {
    const m = currentMinute();
    await t.report('POST', '/v1/usage/reports', report([{ minute: m, keyId: s.keyId, apiId: s.apiId, outcome: 'allowed', count: 7 }], { reporter: OTHER }));
    const fresh = 'aaaaaaaaaaaaaaaa';
    const shopSync = (await asShop(report([], { reporter: fresh, sync: true }))).json<Reply>();
    assert.deepEqual(shopSync.fleet.map((f) => f.subscription), [`${shop.planId}/${shop.consumerId}`]);
    const defaultSync = (await t.report('POST', '/v1/usage/reports', report([], { reporter: fresh, sync: true }))).json<Reply>();
    const victim = defaultSync.fleet.find((f) => f.subscription === `${s.planId}/${s.consumerId}`);
    assert.ok(victim !== undefined && victim.others >= 7, JSON.stringify(defaultSync.fleet));
  });

  it('a target\'s credential long-polls its own WasmPlugin, not another target\'s', async () => {
    await t.app.distributor.flush();
    const mine = await t.app.inject({ method: 'GET', url: '/v1/distribution/wasmplugin', headers: { authorization: `Bearer ${shopToken}` } });
    const plugin = mine.json<{ wasmPlugin: { metadata: { name: string; namespace: string }; spec: { pluginConfig: { apis: { id: string }[]; keys?: unknown[] } } } }>().wasmPlugin;
    assert.deepEqual([plugin.metadata.namespace, plugin.metadata.name], ['shop', 'tollgate-shop']);
    assert.deepEqual(plugin.spec.pluginConfig.apis.map((a) => a.id), [shop.apiId]);
    assert.equal(plugin.spec.pluginConfig.keys, undefined, 'keys come from the key feed, not the WasmPlugin');
  });

  it('keeps a bounded number of acks per target, and a false ack does not make readiness fail', async () => {
    const version = t.app.distributor.current!.compiled.version;
    const ack = (token: string, body: object) => t.app.inject({ method: 'POST', url: '/v1/distribution/acks', headers: { authorization: `Bearer ${token}` }, payload: body });
    assert.equal((await ack(t.app.defaultTarget.reportToken, { proxy: 'real-sidecar', version, status: 'applied', upstreamHealthy: true })).statusCode, 204);
    assert.equal((await t.app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200);
    assert.equal((await ack(t.app.defaultTarget.reportToken, { proxy: 'forged', version, status: 'rejected', message: 'x' })).statusCode, 204);
    assert.equal((await t.app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200, 'the real proxy\'s fresh ack still counts');
    for (let i = 0; i < MAX_ACKS_PER_TARGET + 50; i++) await ack(shopToken, { proxy: `p${i}`, version: 'v', status: 'applied' });
    const acks = t.app.local!.listAcks((await t.admin('GET', '/v1/targets')).json<{ items: { id: string; name: string }[] }>().items.find((x) => x.name === 'tollgate-shop')!.id);
    assert.equal(acks.length, MAX_ACKS_PER_TARGET);
    assert.equal(acks.some((a) => a.proxy === 'p0'), false, 'the oldest are forgotten first');
  });
});

describe('reporter credential rotation', () => {
  let t: TestApp;
  let s: Awaited<ReturnType<typeof seed>>;
  before(async () => {
    t = await testApp();
    s = await seed(t);
  });
  after(async () => t.close());

  it('keeps the old credential working for the grace period, so a batch retried with it is stored once', async () => {
    const old = t.app.defaultTarget.reportToken;
    const rotated = await t.admin('POST', '/v1/targets/default/rotate-report-token', { graceSeconds: 60 });
    assert.equal(rotated.statusCode, 200, rotated.body);
    const fresh = rotated.json<{ reportToken: string }>().reportToken;
    assert.notEqual(fresh, old);
    const body = { version: 1, batchId: batchId(), reporter: REPORTER, dropped: 0, entries: [{ minute: currentMinute(), keyId: s.keyId, apiId: s.apiId, outcome: 'allowed', count: 3 }] };
    const send = (token: string) => t.app.inject({ method: 'POST', url: '/v1/usage/reports', headers: { authorization: `Bearer ${token}` }, payload: body });
    const first = await send(old);
    assert.equal(first.statusCode, 200, 'the old credential still works in its grace period');
    const retry = await send(fresh);
    assert.equal(retry.statusCode, 200);
    assert.equal(retry.json<Reply>().duplicate, true, 'the same batch under the new credential is not counted again');
    // The new WasmPlugin carries the new credential.
    await t.app.distributor.flush();
    assert.equal(t.app.distributor.current!.compiled.config.usage?.token, `Bearer ${fresh}`);
  });

  it('refuses the old credential once the grace period is over, and never shows a credential in listings', async () => {
    const old = (await t.admin('POST', '/v1/targets/default/rotate-report-token', { graceSeconds: 0 })).json<{ reportToken: string }>().reportToken;
    await t.admin('POST', '/v1/targets/default/rotate-report-token', { graceSeconds: 0 });
    const res = await t.app.inject({ method: 'GET', url: '/v1/distribution/wasmplugin', headers: { authorization: `Bearer ${old}` } });
    assert.equal(res.statusCode, 401);
    const listing = (await t.admin('GET', '/v1/targets')).body + (await t.admin('GET', '/v1/targets/default')).body;
    assert.doesNotMatch(listing, /tgr_|reportToken/);
  });
});
