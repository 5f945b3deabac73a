// Credit balances through the REST app, on the run's backend (SQLite, or PostgreSQL with TOLLGATE_TEST_STORE=postgres):
// REST happy and unhappy paths, spend counted exactly once across duplicate and concurrent batches, replies'
// creditSpend per reporter, the key feed (snapshot pages of credits after the keys, deltas on set and remove, digest
// equal to setDigest from scratch, scope restriction), removal with the consumer or plan, refill rollover (mocked
// clock), and a store at version 011 migrated with its plans and keys unchanged.
import { after, afterEach, before, describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { setDigest, type CreditSpend, type SnapshotPage } from '../../contracts/key-feed.js';
import { openStore } from '../../control/store/open-store.js';
import { UsageService } from '../../control/usage/service.js';
import { REPORT, batchId, currentMinute, seed, tempDir, testApp, testStoreUrl, type TestApp } from './helpers.js';
import { catchUp, injectGet, mirrorDigest, takeSnapshot, type Get } from './key-feed-client.js';
import { storeAtVersion } from './old-store.js';
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { migrateStore } from '../../control/store/migrate-store.js';
import { createTestDatabase, pgUnavailable } from './postgres-fixture.js';

const schema = (name: string): object => JSON.parse(readFileSync(new URL(`../../schemas/${name}`, import.meta.url), 'utf8')) as object;
const validateFeed = new Ajv2020({ allErrors: true }).compile(schema('key-feed.v1.schema.json'));
const validateReply = new Ajv2020({ allErrors: true }).compile(schema('usage-reply.v2.schema.json'));

const REPORTER_A = '0123456789abcdef';
const REPORTER_B = 'fedcba9876543210';

interface Account { planId: string; consumerId: string; grant: string; balance: number; refillAmount: number | null; refillPer: string | null; since: string; from: string; budget: number; spent: number; remaining: number }
interface Reply { duplicate: boolean; creditSpend?: CreditSpend[] }

const validating = (get: Get): Get => async (url) => {
  const r = await get(url);
  if (r.statusCode === 200) assert.ok(validateFeed(r.json()), `${url}: ${JSON.stringify(validateFeed.errors)}`);
  return r;
};

async function send(t: TestApp, body: Record<string, unknown>, token = REPORT): Promise<Reply> {
  const r = await t.app.inject({ method: 'POST', url: '/v1/usage/reports', headers: { authorization: `Bearer ${token}` }, payload: body });
  assert.equal(r.statusCode, 200, r.body);
  assert.ok(validateReply(r.json()), JSON.stringify(validateReply.errors));
  return r.json<Reply>();
}
const report = (reporter: string, entries: unknown[], extra: Record<string, unknown> = {}): Record<string, unknown> =>
  ({ version: 1, batchId: batchId(), reporter, entries, dropped: 0, ...extra });
const allowed = (keyId: string, apiId: string, count: number, units?: number, minute = currentMinute()): Record<string, unknown> =>
  ({ minute, keyId, apiId, outcome: 'allowed', count, ...(units === undefined ? {} : { units }) });

describe('credit balances: REST', () => {
  let t: TestApp;
  let s: Awaited<ReturnType<typeof seed>>;
  before(async () => {
    t = await testApp();
    s = await seed(t);
  });
  after(async () => t.close());

  it('PUT sets a new grant counted from the current minute; GET reads it; the list has it', async () => {
    const before = Math.floor(Date.now() / 60_000) * 60;
    const r = await t.admin('PUT', `/v1/consumers/${s.consumerId}/credits/${s.planId}`, { balance: 1000 });
    assert.equal(r.statusCode, 200, r.body);
    const a = r.json<Account>();
    assert.equal(a.planId, s.planId);
    assert.equal(a.consumerId, s.consumerId);
    assert.match(a.grant, /^[A-Za-z0-9_-]{1,32}$/);
    assert.deepEqual([a.balance, a.refillAmount, a.refillPer, a.budget, a.spent, a.remaining], [1000, null, null, 1000, 0, 1000]);
    assert.ok(Date.parse(a.since) / 1000 >= before && (Date.parse(a.since) / 1000) % 60 === 0, 'since: a minute boundary');
    assert.equal(a.from, a.since);
    const got = await t.admin('GET', `/v1/consumers/${s.consumerId}/credits/${s.planId}`);
    assert.equal(got.statusCode, 200);
    assert.equal(got.json<Account>().grant, a.grant);
    const list = await t.admin('GET', `/v1/consumers/${s.consumerId}/credits`);
    assert.deepEqual(list.json<{ items: Account[] }>().items.map((x) => x.grant), [a.grant]);
    // Set again: a new grant every time.
    const again = await t.admin('PUT', `/v1/consumers/${s.consumerId}/credits/${s.planId}`, { balance: 5, refillAmount: 50, refillPer: 'day' });
    assert.equal(again.statusCode, 200);
    assert.notEqual(again.json<Account>().grant, a.grant);
    assert.deepEqual([again.json<Account>().refillAmount, again.json<Account>().refillPer], [50, 'day']);
  });

  it('422 for an unknown plan or consumer, bad amounts, and refillAmount without refillPer or vice versa', async () => {
    const put = (consumerId: string, planId: string, body: unknown) => t.admin('PUT', `/v1/consumers/${consumerId}/credits/${planId}`, body);
    const cases: [string, string, unknown, RegExp][] = [
      [s.consumerId, 'pln_missing', { balance: 1 }, /plan 'pln_missing' does not exist/],
      ['con_missing', s.planId, { balance: 1 }, /consumer 'con_missing' does not exist/],
      [s.consumerId, s.planId, { balance: -1 }, /^balance: must be an integer/],
      [s.consumerId, s.planId, { balance: 2.5 }, /^balance: must be an integer/],
      [s.consumerId, s.planId, { balance: 1, refillAmount: 10 }, /^refillAmount: needs refillPer/],
      [s.consumerId, s.planId, { balance: 1, refillPer: 'hour' }, /^refillPer: needs refillAmount/],
      [s.consumerId, s.planId, { balance: 1, refillAmount: 0.5, refillPer: 'hour' }, /^refillAmount: must be an integer/],
    ];
    for (const [c, p, body, detail] of cases) {
      const r = await put(c, p, body);
      assert.equal(r.statusCode, 422, `${JSON.stringify(body)}: ${r.body}`);
      assert.match(r.headers['content-type'] as string, /application\/problem\+json/);
      assert.match(r.json<{ detail: string }>().detail, detail);
    }
    for (const body of [{ balance: '5' }, { balance: 5, extra: 1 }, { balance: 5, refillAmount: 5, refillPer: 'week' }, {}]) {
      assert.equal((await put(s.consumerId, s.planId, body)).statusCode, 400, JSON.stringify(body));
    }
  });

  it('DELETE removes (204), then 404; GET 404 without a balance; unknown consumer lists 404; admin token only', async () => {
    const other = (await t.admin('POST', '/v1/plans', { name: 'silver', limits: [{ requests: 10, per: 'minute' }], apiIds: [s.apiId] })).json<{ id: string }>();
    assert.equal((await t.admin('GET', `/v1/consumers/${s.consumerId}/credits/${other.id}`)).statusCode, 404);
    assert.equal((await t.admin('PUT', `/v1/consumers/${s.consumerId}/credits/${other.id}`, { balance: 3 })).statusCode, 200);
    assert.equal((await t.admin('DELETE', `/v1/consumers/${s.consumerId}/credits/${other.id}`)).statusCode, 204);
    assert.equal((await t.admin('DELETE', `/v1/consumers/${s.consumerId}/credits/${other.id}`)).statusCode, 404);
    assert.equal((await t.admin('GET', `/v1/consumers/${s.consumerId}/credits/${other.id}`)).statusCode, 404);
    assert.equal((await t.admin('GET', '/v1/consumers/con_nobody/credits')).statusCode, 404);
    assert.equal((await t.report('GET', `/v1/consumers/${s.consumerId}/credits`)).statusCode, 401);
    assert.equal((await t.app.inject({ method: 'PUT', url: `/v1/consumers/${s.consumerId}/credits/${s.planId}`, payload: { balance: 1 } })).statusCode, 401);
  });

  it('is in the OpenAPI document', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json<{ paths: Record<string, Record<string, unknown>> }>();
    const paths = Object.keys(doc.paths).filter((p) => p.includes('/credits'));
    assert.ok(paths.length >= 2, paths.join(', '));
    assert.ok(Object.values(doc.paths).some((p) => p.put !== undefined && JSON.stringify(p.put).includes('refillPer')));
  });
});

describe('credit balances: spend at ingest', () => {
  let t: TestApp;
  let s: Awaited<ReturnType<typeof seed>>;
  before(async () => {
    t = await testApp();
    s = await seed(t, [{ requests: 1_000_000, per: 'hour' }]);
  });
  after(async () => t.close());

  const account = async (): Promise<Account> => (await t.admin('GET', `/v1/consumers/${s.consumerId}/credits/${s.planId}`)).json<Account>();

  it('counts allowed units once per batch (duplicates and concurrent copies add nothing) and replies with the others\' spend', async () => {
    const grant = (await t.admin('PUT', `/v1/consumers/${s.consumerId}/credits/${s.planId}`, { balance: 100 })).json<Account>().grant;
    const first = report(REPORTER_A, [allowed(s.keyId, s.apiId, 3, 7), { minute: currentMinute(), keyId: s.keyId, apiId: s.apiId, outcome: 'rejected_quota', count: 4 }]);
    const r1 = await send(t, first);
    assert.equal(r1.duplicate, false);
    const mine = r1.creditSpend?.find((c) => c.subscription === `${s.planId}/${s.consumerId}`);
    assert.deepEqual(mine && { grant: mine.grant, others: mine.others }, { grant, others: 0 }, 'the asker\'s own units are left out');
    // The same batch again, and two concurrent copies of another: each counted once.
    assert.equal((await send(t, first)).duplicate, true);
    const second = report(REPORTER_A, [allowed(s.keyId, s.apiId, 2)]);
    const both = await Promise.all([send(t, second), send(t, second)]);
    assert.deepEqual(both.map((b) => b.duplicate).sort(), [false, true]);
    assert.deepEqual([(await account()).spent, (await account()).remaining], [9, 91]);
    // Another reporter sees the first one's units as others; its own come on top.
    const rb = await send(t, report(REPORTER_B, [allowed(s.keyId, s.apiId, 1, 5)]));
    assert.equal(rb.creditSpend!.find((c) => c.grant === grant)!.others, 9);
    const ra = await send(t, report(REPORTER_A, [], { sync: true }));
    assert.equal(ra.creditSpend!.find((c) => c.grant === grant)!.others, 5, 'a sync reply lists the scope\'s balances');
    assert.equal((await account()).spent, 14);
  });

  it('usage before the grant\'s minute does not count; a new grant restarts counting; a subscription without a balance gets no creditSpend', async () => {
    const grant = (await t.admin('PUT', `/v1/consumers/${s.consumerId}/credits/${s.planId}`, { balance: 10 })).json<Account>().grant;
    const a = await account();
    assert.deepEqual([a.grant, a.spent, a.remaining], [grant, 0, 10]);
    await send(t, report(REPORTER_A, [allowed(s.keyId, s.apiId, 4, 4, currentMinute() - 120), allowed(s.keyId, s.apiId, 12, 12)]));
    const b = await account();
    assert.deepEqual([b.spent, b.remaining], [12, 0], 'remaining shows 0 once overspent');
    assert.equal((await t.admin('DELETE', `/v1/consumers/${s.consumerId}/credits/${s.planId}`)).statusCode, 204);
    const r = await send(t, report(REPORTER_A, [allowed(s.keyId, s.apiId, 1)]));
    assert.equal(r.creditSpend, undefined);
  });
});

describe('credit balances: key feed', () => {
  let t: TestApp;
  let s: Awaited<ReturnType<typeof seed>>;
  let get: Get;
  const sub = (): string => `${s.planId}/${s.consumerId}`;
  before(async () => {
    t = await testApp();
    s = await seed(t);
    get = validating(injectGet(t.app, REPORT));
  });
  after(async () => t.close());

  it('pages credits after every key, in subscription order; the digest covers keys and balances', async () => {
    await t.admin('POST', '/v1/keys:bulkCreate', { consumerId: s.consumerId, planId: s.planId, count: 4 });
    const consumers: string[] = [];
    for (let i = 0; i < 5; i++) {
      const c = (await t.admin('POST', '/v1/consumers', { name: `c${i}` })).json<{ id: string }>().id;
      consumers.push(c);
      assert.equal((await t.admin('PUT', `/v1/consumers/${c}/credits/${s.planId}`, { balance: 10 + i, refillAmount: 5, refillPer: 'month' })).statusCode, 200);
    }
    const { mirror, pages } = await takeSnapshot(get, 2, REPORTER_A);
    const keyPages = pages.filter((p) => p.keys.length > 0);
    const creditPages = pages.filter((p) => p.keys.length === 0);
    assert.equal(keyPages.length, 3);
    assert.equal(keyPages.at(-1)!.next, 'c:', 'the last key page points at the credit pages');
    assert.deepEqual(creditPages.map((p) => p.credits?.length ?? 0), [2, 2, 1]);
    const subs = creditPages.flatMap((p) => (p.credits ?? []).map((c) => c[0]));
    assert.deepEqual(subs, [...subs].sort(), 'subscription order');
    assert.equal(creditPages[0]!.next, `c:${subs[1]}`);
    const lastPage = pages.at(-1)!;
    assert.equal(lastPage.next, null);
    assert.equal(mirror.digest, setDigest(mirror.keys.values(), mirror.credits!.values()), 'the digest covers the balances');
    assert.equal(mirror.credits!.size, 5);
    assert.deepEqual(lastPage.creditSpend!.map((c) => c.subscription).sort(), subs);
    for (const p of pages.slice(0, -1)) assert.equal(p.digest, undefined);
    // A cursor from the middle continues there.
    const mid = (await get(`/v1/keyfeed/snapshot?after=c:${encodeURIComponent(subs[2]!)}&limit=10`)).json<SnapshotPage>();
    assert.deepEqual(mid.credits!.map((c) => c[0]), subs.slice(3));
    assert.equal((await get('/v1/keyfeed/snapshot?after=c:not-a-subscription')).statusCode, 400);
  });

  it('deltas carry set (with creditSpend) and remove, each subscription once; the digest follows', async () => {
    const { mirror } = await takeSnapshot(get);
    await t.admin('PUT', `/v1/consumers/${s.consumerId}/credits/${s.planId}`, { balance: 1 });
    const set = await t.admin('PUT', `/v1/consumers/${s.consumerId}/credits/${s.planId}`, { balance: 40 });
    const pages = await catchUp(get, mirror, 1);
    assert.ok(pages.length >= 2, 'the page limit cuts across both logs');
    const changes = pages.flatMap((p) => p.credits ?? []);
    assert.equal(mirror.credits!.get(sub())![1], set.json<Account>().grant);
    assert.equal(mirror.credits!.get(sub())![2], 40);
    assert.equal(mirrorDigest(mirror), mirror.digest);
    assert.ok(changes.every((c) => c.op === 'set'));
    const one = await catchUpOnce(mirror.epoch, mirror.revision - 2);
    assert.equal(one.credits!.filter((c) => c.credit[0] === sub()).length, 1, 'collapsed: each subscription once');
    assert.equal(one.creditSpend!.find((c) => c.subscription === sub())!.grant, set.json<Account>().grant);
    // Remove, then the consumer's deletion removes the rest of its balances.
    assert.equal((await t.admin('DELETE', `/v1/consumers/${s.consumerId}/credits/${s.planId}`)).statusCode, 204);
    await catchUp(get, mirror);
    assert.equal(mirror.credits!.has(sub()), false);
    assert.equal(mirrorDigest(mirror), mirror.digest);
    const c = (await t.admin('POST', '/v1/consumers', { name: 'leaving' })).json<{ id: string }>().id;
    await t.admin('PUT', `/v1/consumers/${c}/credits/${s.planId}`, { balance: 9 });
    await catchUp(get, mirror);
    assert.equal(mirror.credits!.has(`${s.planId}/${c}`), true);
    assert.equal((await t.admin('DELETE', `/v1/consumers/${c}`)).statusCode, 204);
    const gone = await catchUp(get, mirror);
    assert.deepEqual(gone.flatMap((p) => p.credits ?? []).map((x) => [x.op, x.credit[0]]), [['remove', `${s.planId}/${c}`]]);
    assert.equal(mirrorDigest(mirror), mirror.digest);
    assert.equal((await t.admin('GET', `/v1/consumers/${c}/credits`)).statusCode, 404);
  });

  async function catchUpOnce(epoch: string, since: number) {
    const r = await get(`/v1/keyfeed/deltas?epoch=${epoch}&since=${since}`);
    assert.equal(r.statusCode, 200, r.body);
    return r.json<import('../../contracts/key-feed.js').DeltaPage>();
  }

  it('a plan\'s deletion removes its balances; a restricted target never sees other plans\' balances', async () => {
    const api2 = (await t.admin('POST', '/v1/apis', { name: 'billing', pathPrefix: '/billing' })).json<{ id: string }>().id;
    const plan2 = (await t.admin('POST', '/v1/plans', { name: 'billing-plan', limits: [{ requests: 5, per: 'minute' }], apiIds: [api2] })).json<{ id: string }>().id;
    assert.equal((await t.admin('PUT', `/v1/consumers/${s.consumerId}/credits/${plan2}`, { balance: 77 })).statusCode, 200);
    const target = (await t.admin('POST', '/v1/targets', { name: 'orders-only', namespace: 'shop', apiIds: [s.apiId] })).json<{ id: string; reportToken: string }>();
    const restricted = validating(injectGet(t.app, target.reportToken));
    const { mirror } = await takeSnapshot(restricted, 3);
    assert.ok([...mirror.credits!.keys()].every((k) => k.startsWith(`${s.planId}/`)), 'only the scope\'s plans');
    assert.equal(mirror.digest, setDigest(mirror.keys.values(), mirror.credits!.values()));
    const everything = await takeSnapshot(get, 3);
    assert.equal(everything.mirror.credits!.has(`${plan2}/${s.consumerId}`), true);
    // The other plan's balance changes are not in the restricted target's deltas.
    await t.admin('PUT', `/v1/consumers/${s.consumerId}/credits/${plan2}`, { balance: 78 });
    const pages = await catchUp(restricted, mirror);
    assert.equal(pages.flatMap((p) => p.credits ?? []).length, 0);
    assert.equal(mirrorDigest(mirror), mirror.digest);
    // Deleting the plan removes its balance: the unrestricted feed says so.
    assert.equal((await t.admin('DELETE', `/v1/plans/${plan2}`)).statusCode, 204);
    const removed = await catchUp(get, everything.mirror);
    assert.ok(removed.flatMap((p) => p.credits ?? []).some((c) => c.op === 'remove' && c.credit[0] === `${plan2}/${s.consumerId}`));
    assert.equal(mirrorDigest(everything.mirror), everything.mirror.digest);
  });
});

describe('credit balances: refill rollover', () => {
  let t: TestApp;
  let s: Awaited<ReturnType<typeof seed>>;
  before(async () => {
    t = await testApp();
    s = await seed(t, [{ requests: 1_000_000, per: 'day' }]);
  });
  after(async () => t.close());
  afterEach(() => mock.timers.reset());

  it('at the first boundary after since the budget becomes the refill amount and counting restarts', async () => {
    // 10:59:30 UTC today: the grant's since is 10:59; the refill boundary is 11:00.
    const day = Math.floor(Date.now() / 86_400_000) * 86_400;
    const t0 = day + 10 * 3600 + 59 * 60 + 30;
    mock.timers.enable({ apis: ['Date'], now: t0 * 1000 });
    const put = await t.admin('PUT', `/v1/consumers/${s.consumerId}/credits/${s.planId}`, { balance: 500, refillAmount: 20, refillPer: 'hour' });
    const a = put.json<Account>();
    assert.deepEqual([a.since, a.budget], [new Date((t0 - 30) * 1000).toISOString(), 500]);
    await send(t, report(REPORTER_A, [allowed(s.keyId, s.apiId, 6, 60, t0 - 30)]));
    const spentBefore = (await t.admin('GET', `/v1/consumers/${s.consumerId}/credits/${s.planId}`)).json<Account>();
    assert.deepEqual([spentBefore.spent, spentBefore.remaining], [60, 440]);
    mock.timers.setTime((t0 + 60) * 1000); // 11:00:30
    const after = (await t.admin('GET', `/v1/consumers/${s.consumerId}/credits/${s.planId}`)).json<Account>();
    assert.deepEqual([after.from, after.budget, after.spent, after.remaining], [new Date((t0 + 30) * 1000).toISOString(), 20, 0, 20]);
    // A late report for 10:59 is past its period: it does not count against the new one.
    const late = await send(t, report(REPORTER_A, [allowed(s.keyId, s.apiId, 1, 3, t0 - 30), allowed(s.keyId, s.apiId, 2, 2, t0 + 30)]));
    assert.equal(late.creditSpend![0]!.from, t0 + 30);
    const now = (await t.admin('GET', `/v1/consumers/${s.consumerId}/credits/${s.planId}`)).json<Account>();
    assert.deepEqual([now.spent, now.remaining], [2, 18]);
    const other = await send(t, report(REPORTER_B, [allowed(s.keyId, s.apiId, 1, 1, t0 + 30)]));
    assert.equal(other.creditSpend![0]!.others, 2);
  });
});

describe('credit balances: two service processes on one store', () => {
  it('count every batch exactly once when copies race on both, and the spend survives a restart', async () => {
    const place = await testStoreUrl();
    const scope = { targetId: 'default', apiIds: null };
    const a = await openStore({ url: place.url });
    const b = await openStore({ url: place.url });
    try {
      const api = await a.apis.create({ name: 'a', pathPrefix: '/a', hosts: [], methods: [] });
      const plan = await a.plans.create({ name: 'p', limits: [{ requests: 1_000_000, per: 'hour' }], apiIds: [api.id] });
      const consumer = await a.consumers.create('c');
      const key = await a.keys.create({ consumerId: consumer.id, planId: plan.id, digest: 'D'.repeat(43), prefix: 'tgk_DDDD', expiresAt: null });
      const { grant, since: minute } = await a.credits.set(consumer.id, plan.id, { balance: 1_000_000, refillAmount: null, refillPer: null });
      const now = Math.floor(Date.now() / 1000);
      const ua = new UsageService(a.usage, { fleetRefreshMs: 0 });
      const ub = new UsageService(b.usage, { fleetRefreshMs: 0 });
      const batches = Array.from({ length: 12 }, (_, i) => ({
        version: 1 as const, batchId: batchId(), reporter: i % 2 === 0 ? REPORTER_A : REPORTER_B, dropped: 0,
        entries: [{ minute, keyId: key.id, apiId: api.id, outcome: 'allowed' as const, count: 1, units: i + 1 }],
      }));
      // Every batch is sent by both processes at once (a retry racing its original on another replica).
      const results = await Promise.all(batches.flatMap((r) => [ua.ingest(r, scope, now), ub.ingest(r, scope, now)]));
      assert.equal(results.filter((r) => !r.duplicate).length, 12, 'each batch stored once');
      const total = (12 * 13) / 2;
      const [all] = await b.usage.creditOthers([{ grant, from: minute }], '');
      assert.equal(all, total);
      await ua.close();
      await ub.close();
    } finally {
      await a.close();
      await b.close();
    }
    const reopened = await openStore({ url: place.url });
    try {
      const [balance] = await reopened.usage.creditBalances();
      assert.equal((await reopened.usage.creditOthers([{ grant: balance!.grant, from: balance!.since }], `default:${REPORTER_A}`))[0], 2 + 4 + 6 + 8 + 10 + 12,
        'after a restart: every reporter but A');
    } finally {
      await reopened.close();
      await place.dispose();
    }
  });
});

describe('credit balances: feed history', () => {
  it('pruning drops old balance changes with old key changes and moves the horizon past them', async () => {
    const place = await testStoreUrl();
    let clock = 1_800_000_000;
    const store = await openStore({ url: place.url, now: () => clock });
    try {
      const consumer = await store.consumers.create('old');
      const plan = await store.plans.create({ name: 'p', limits: [{ requests: 5, per: 'minute' }], apiIds: [] });
      await store.credits.set(consumer.id, plan.id, { balance: 3, refillAmount: null, refillPer: null });
      const head = (await store.keyFeed.state()).head;
      const all = { targetId: 'x', apiIds: null };
      assert.equal((await store.keyFeed.deltas(all, head - 1, 10)).credits.length, 1);
      assert.equal(await store.keyFeed.prune(clock + 60), 0, 'nothing is old yet');
      clock += 8 * 86_400;
      await store.credits.set(consumer.id, plan.id, { balance: 4, refillAmount: null, refillPer: null });
      assert.equal(await store.keyFeed.prune(clock), 1, 'the week-old balance change');
      const state = await store.keyFeed.state();
      assert.equal(state.horizon, head);
      const d = await store.keyFeed.deltas(all, head, 10);
      assert.deepEqual(d.credits.map((c) => [c.op, c.credit[2]]), [['set', 4]]);
    } finally {
      await store.close();
      await place.dispose();
    }
  });
});

describe('credit balances: migration from version 011', () => {
  it('a store at 011 opens at the latest version with its plans and keys unchanged, and takes balances', async () => {
    const place = await testStoreUrl();
    try {
      await storeAtVersion(place.url, 11, [
        "INSERT INTO consumers (id, name, created_at, updated_at) VALUES ('con_old', 'old', 1, 1)",
        "INSERT INTO plans (id, name, limits, created_at, updated_at) VALUES ('pln_old', 'old', '[{\"requests\":5,\"per\":\"minute\"}]', 1, 1)",
        `INSERT INTO api_keys (id, consumer_id, plan_id, digest, prefix, created_at) VALUES ('key_old', 'con_old', 'pln_old', '${'A'.repeat(43)}', 'tgk_AAAA', 1)`,
      ]);
      const store = await openStore({ url: place.url, now: () => 1_800_000_000 });
      try {
        const plan = await store.plans.get('pln_old');
        assert.deepEqual(plan.limits, [{ requests: 5, per: 'minute' }]);
        const key = await store.keys.get('key_old');
        assert.deepEqual([key.consumerId, key.planId, key.revokedAt], ['con_old', 'pln_old', null]);
        const before = await store.keyFeed.snapshotPage({ targetId: 'x', apiIds: null }, undefined, 10);
        assert.equal(before.digest, setDigest([[`${'A'.repeat(43)}`, 'key_old', 'con_old', 'pln_old', 0]]));
        assert.equal(before.hasCredits, false);
        const b = await store.credits.set('con_old', 'pln_old', { balance: 3, refillAmount: null, refillPer: null });
        assert.equal(b.since, 1_800_000_000 - (1_800_000_000 % 60));
        const page = await store.keyFeed.creditPage({ targetId: 'x', apiIds: null }, '', 10);
        assert.deepEqual(page.credits, [['pln_old/con_old', b.grant, 3, 0, '', b.since]]);
        assert.equal(page.digest, setDigest([[`${'A'.repeat(43)}`, 'key_old', 'con_old', 'pln_old', 0]], page.credits));
        // Rebuilt from scratch (as migrate-store does), the digest is the same.
        await store.keyFeed.rebuild(false);
        assert.equal((await store.keyFeed.creditPage({ targetId: 'x', apiIds: null }, '', 10)).digest, page.digest);
      } finally {
        await store.close();
      }
    } finally {
      await place.dispose();
    }
  });
});


describe('credit balances: tollgate migrate-store', { skip: (await pgUnavailable()) ?? false }, () => {
  it('copies balances and spend into PostgreSQL; the new epoch\'s digest covers them', async () => {
    const dir = tempDir();
    const db = await createTestDatabase();
    const path = join(dir, 'store.db');
    try {
      const src = await openStore({ url: path });
      const consumer = await src.consumers.create('c');
      const plan = await src.plans.create({ name: 'p', limits: [{ requests: 5, per: 'minute' }], apiIds: [] });
      await src.keys.create({ consumerId: consumer.id, planId: plan.id, digest: 'E'.repeat(43), prefix: 'tgk_EEEE', expiresAt: null });
      const b = await src.credits.set(consumer.id, plan.id, { balance: 9, refillAmount: 4, refillPer: 'month' });
      await src.usage.storeBatch({
        batchId: 'f'.repeat(32), reporter: REPORTER_A, targetId: 'default', receivedAt: b.since, entries: 0, dropped: 0, refused: 0,
        rows: { minute: [], hour: [], day: [] }, fleet: [], credits: [{ grant: b.grant, from: b.since, reporter: `default:${REPORTER_A}`, units: 6 }],
      });
      await src.close();
      await migrateStore(path, db.url);
      const dst = await openStore({ url: db.url });
      try {
        assert.deepEqual(await dst.credits.get(consumer.id, plan.id), b);
        assert.deepEqual(await dst.usage.creditOthers([{ grant: b.grant, from: b.since }], ''), [6]);
        const all = { targetId: 'x', apiIds: null };
        const page = await dst.keyFeed.creditPage(all, '', 10);
        assert.equal(page.digest, setDigest([['E'.repeat(43), (await dst.keys.listForConsumer(consumer.id, { limit: 5, after: undefined })).items[0]!.id, consumer.id, plan.id, 0]], page.credits));
        assert.equal((await dst.keyFeed.state()).head, 0, 'a new revision history');
      } finally {
        await dst.close();
      }
    } finally {
      await db.drop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
