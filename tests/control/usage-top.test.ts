// GET /v1/usage/top on the run's backend (SQLite, or PostgreSQL with TOLLGATE_TEST_STORE=postgres): random batches
// over two days (retried, raced, some entries refused) sent over real HTTP to POST /v1/usage/reports; every ranking
// (by consumer, key, API, operation and plan; every outcome filter; an API filter; the whole range and a few hours)
// equals the sum of the distinct batches' accepted entries, ordered by requests then id bytewise; ties, the limit, the
// range widened to whole hours, and bad parameters (problem+json 400), admin only. On PostgreSQL some batches are
// folded and some still in the log when the ranking reads.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { hourRange } from '../../control/routes/v1/usage/top.js';
import { ADMIN, REPORT, adminOk, currentMinute, testApp, type TestApp } from './helpers.js';
import { randomEntries, sendBatch, type Entry, type StoredOutcome } from './random-usage.js';

type By = 'consumer' | 'key' | 'api' | 'operation' | 'plan';
const OUTCOMES = { allowed: 'allowed', rejected_quota: 'rejectedQuota', rejected_auth: 'rejectedAuth', rejected_forbidden: 'rejectedForbidden' } as const;
interface Item {
  id: string; requests: number; allowed: number; rejectedQuota: number; rejectedAuth: number; rejectedForbidden: number; units: number; wouldReject: number;
  apiId?: string; consumerId?: string;
}
interface Reply { by: By; from: string; to: string; items: Item[] }

/** A small deterministic PRNG (mulberry32), so a failure reproduces. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4_294_967_296;
  };
}
const iso = (t: number): string => new Date(t * 1000).toISOString();
const bytewise = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

describe('hourRange (pure)', () => {
  it('widens a range to the whole UTC hours it touches; aligned ends stay', () => {
    const h = Date.UTC(2026, 10, 29, 21) / 1000;
    assert.deepEqual(hourRange(h, h + 3600), { from: h, to: h + 3600 });
    assert.deepEqual(hourRange(h + 1, h + 3601), { from: h, to: h + 7200 });
    assert.deepEqual(hourRange(h + 3599, h + 3600), { from: h, to: h + 3600 });
  });
});

describe('GET /v1/usage/top over real HTTP', () => {
  let t: TestApp;
  let base: string;
  /** keyId → [consumer, plan]. */
  const owner = new Map<string, [string, string]>();
  const accepted: Entry[] = [];
  let apis: string[] = [];
  let now = 0;

  const get = (path: string, token = ADMIN): Promise<Response> => fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } });
  const top = async (query: string): Promise<Reply> => {
    const res = await get(`/v1/usage/top?${query}`);
    const text = await res.text();
    assert.equal(res.status, 200, text);
    return JSON.parse(text) as Reply;
  };

  before(async () => {
    t = await testApp();
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
    const admin = <T>(method: 'POST', path: string, body: unknown): Promise<T> => adminOk<T>(t, method, path, body);
    apis = [
      (await admin<{ id: string }>('POST', '/v1/apis', { name: 'orders', pathPrefix: '/orders' })).id,
      (await admin<{ id: string }>('POST', '/v1/apis', { name: 'billing', pathPrefix: '/billing' })).id,
    ];
    const plans = [
      (await admin<{ id: string }>('POST', '/v1/plans', { name: 'gold', limits: [{ requests: 1_000_000, per: 'day' }], apiIds: apis })).id,
      (await admin<{ id: string }>('POST', '/v1/plans', { name: 'free', limits: [{ requests: 1_000_000, per: 'day' }], apiIds: apis })).id,
    ];
    const consumers: string[] = [];
    for (const name of ['acme', 'globex', 'initech', 'tie-one', 'tie-two']) consumers.push((await admin<{ id: string }>('POST', '/v1/consumers', { name })).id);
    const keys: string[] = [];
    // acme on both plans (two keys), the others on one each; the last two only for the tie below.
    for (const [c, p] of [[0, 0], [0, 1], [1, 0], [2, 1], [3, 0], [4, 1]] as const) {
      const k = await admin<{ id: string }>('POST', `/v1/consumers/${consumers[c]}/keys`, { planId: plans[p] });
      keys.push(k.id);
      owner.set(k.id, [consumers[c]!, plans[p]!]);
    }
    const random = rng(42);
    now = currentMinute();
    const send = async (entries: Entry[], copies: number, raced: boolean, extra: Entry[] = []): Promise<void> => {
      await sendBatch(base, REPORT, [...entries, ...extra], copies, raced);
      accepted.push(...entries);
    };
    const ranked = keys.slice(0, 4);
    for (let b = 0; b < 30; b++) {
      // Up to two days back (and the current minute now and then), so the default 24 hours and sub-ranges differ.
      const entries = randomEntries(random, { keys: ranked, apis, operations: ['', 'getOrder', 'listOrders'], minute: () => (random() < 0.15 ? now : now - 60 * Math.floor(random() * 2 * 24 * 60)) });
      // Refused, never counted: an unknown key, and a minute older than a report may be.
      const refused: Entry[] = [
        { minute: now, keyId: 'no-such-key', apiId: apis[0]!, outcome: 'allowed', count: 7 },
        { minute: now - 8 * 86_400, keyId: keys[0]!, apiId: apis[0]!, outcome: 'allowed', count: 9 },
      ];
      await send(entries, b % 3 === 0 ? 1 : b % 3 === 1 ? 2 : 3, b % 3 === 2, b % 5 === 0 ? refused : []);
      if (b === 15) await t.app.usage.rollup();
    }
    // A tie: two consumers with the same requests in the same hour, different outcomes, APIs and plans.
    await send([
      { minute: now, keyId: keys[4]!, apiId: apis[0]!, outcome: 'allowed', count: 40, units: 40 },
      { minute: now, keyId: keys[4]!, apiId: apis[1]!, outcome: 'rejected_quota', count: 2 },
      { minute: now, keyId: keys[5]!, apiId: apis[1]!, outcome: 'allowed', count: 42, units: 84 },
    ], 1, false);
  });
  after(async () => t?.close());

  /** The ranking the accepted entries make: hours in [from, to), per `by`, largest first, ties by id bytewise. */
  function expected(by: By, from: number, to: number, outcome?: StoredOutcome, apiId?: string): Item[] {
    const groups = new Map<string, Item>();
    for (const e of accepted) {
      const hour = e.minute - (e.minute % 3600);
      if (hour < from || hour >= to || (outcome !== undefined && e.outcome !== outcome) || (apiId !== undefined && e.apiId !== apiId)) continue;
      const [consumer, plan] = e.keyId === '' ? ['', ''] : owner.get(e.keyId)!;
      const id = { consumer, plan, key: e.keyId, api: e.apiId, operation: e.operationId ?? '' }[by];
      const groupKey = by === 'operation' ? `${id}\0${e.apiId}` : id;
      const g = groups.get(groupKey) ?? {
        id, requests: 0, allowed: 0, rejectedQuota: 0, rejectedAuth: 0, rejectedForbidden: 0, units: 0, wouldReject: 0,
        ...(by === 'operation' ? { apiId: e.apiId } : {}), ...(by === 'key' ? { consumerId: consumer } : {}),
      };
      g.requests += e.count;
      g[OUTCOMES[e.outcome]] += e.count;
      if (e.outcome === 'allowed') g.units += e.units ?? e.count;
      g.wouldReject += e.wouldReject ?? 0;
      groups.set(groupKey, g);
    }
    return [...groups.values()].sort((a, b) => b.requests - a.requests || bytewise(a.id, b.id) || bytewise(a.apiId ?? '', b.apiId ?? ''));
  }

  const oldestHour = (): number => Math.min(...accepted.map((e) => e.minute - (e.minute % 3600)));
  const BYS: By[] = ['consumer', 'key', 'api', 'operation', 'plan'];

  it('every ranking equals the distinct batches: each dimension, each outcome filter, an API filter', async () => {
    const from = oldestHour();
    const to = now - (now % 3600) + 3600;
    for (const by of BYS) {
      for (const outcome of [undefined, ...Object.keys(OUTCOMES) as StoredOutcome[]]) {
        for (const apiId of [undefined, apis[1]!]) {
          const q = `by=${by}&from=${iso(from)}&to=${iso(to)}&limit=100${outcome === undefined ? '' : `&outcome=${OUTCOMES[outcome]}`}${apiId === undefined ? '' : `&apiId=${apiId}`}`;
          const reply = await top(q);
          const want = expected(by, from, to, outcome, apiId);
          assert.ok(want.length > 0 && want.length <= 100, `${q}: a meaningful case (${want.length} groups)`);
          assert.deepEqual(reply, { by, from: iso(from), to: iso(to), items: want }, q);
        }
      }
    }
  });

  it('a few hours count only their hours; a range inside an hour is widened to it (and the reply says so)', async () => {
    const mid = now - (now % 3600) - 20 * 3600;
    for (const by of BYS) {
      const reply = await top(`by=${by}&from=${iso(mid + 600)}&to=${iso(mid + 3 * 3600 - 1)}&limit=100`);
      assert.equal(reply.from, iso(mid));
      assert.equal(reply.to, iso(mid + 3 * 3600));
      assert.deepEqual(reply.items, expected(by, mid, mid + 3 * 3600), by);
    }
    const empty = await top(`from=${iso(now + 7200)}&to=${iso(now + 10_800)}`);
    assert.deepEqual(empty.items, [], 'no traffic: no groups');
  });

  it('without from/to: the last 24 hours (whole hours), ten groups at most by consumer', async () => {
    const reply = await top('');
    assert.equal(reply.by, 'consumer');
    const from = Date.parse(reply.from) / 1000;
    const to = Date.parse(reply.to) / 1000;
    assert.equal(from % 3600, 0);
    assert.equal(to % 3600, 0);
    assert.ok(to > Date.now() / 1000 && to - from >= 86_400 && to - from <= 86_400 + 3600, `${reply.from} … ${reply.to}`);
    assert.deepEqual(reply.items, expected('consumer', from, to).slice(0, 10));
    assert.ok(accepted.some((e) => e.minute < from), 'the data reaches further back than the default range');
    assert.notDeepEqual(expected('consumer', from, to), expected('consumer', oldestHour(), to), 'so the default range leaves some out');
  });

  it('ties: equal requests are ordered by id, bytewise; the limit keeps the first n of the same order', async () => {
    const hour = now - (now % 3600);
    const q = `by=consumer&from=${iso(hour)}&to=${iso(hour + 3600)}&limit=100`;
    const full = (await top(q)).items;
    const [one, two] = [...owner.values()].slice(4).map(([c]) => c) as [string, string];
    const tied = full.filter((i) => i.id === one || i.id === two);
    assert.equal(tied.length, 2);
    // The tie consumers may gain nothing else: their keys only sent the tie batch.
    assert.equal(tied[0]!.requests, 42);
    assert.equal(tied[1]!.requests, 42);
    assert.deepEqual(tied.map((i) => i.id), [one, two].sort(bytewise));
    assert.equal(full.indexOf(tied[1]!), full.indexOf(tied[0]!) + 1, 'adjacent');
    for (let n = 1; n <= full.length; n++) assert.deepEqual((await top(q.replace('limit=100', `limit=${n}`))).items, full.slice(0, n), `limit=${n}`);
    assert.deepEqual(tied.map((i) => [i.allowed, i.rejectedQuota, i.units]).sort(), [[40, 2, 40], [42, 0, 84]].sort());
  });

  it('bad parameters: problem+json 400 naming them; nothing but the admin token gets in', async () => {
    const bad = {
      'by=key,api': /by/, 'by=owner': /by/, 'limit=0': /limit/, 'limit=101': /limit/, 'limit=ten': /limit/,
      'outcome=rejected_quota': /outcome/, 'from=yesterday': /from/, [`apiId=${'a'.repeat(65)}`]: /apiId/, 'groupBy=consumer': /groupBy|additional/,
      [`from=${iso(now)}&to=${iso(now)}`]: /from: must be before to/, [`from=${iso(now)}&to=${iso(now - 60)}`]: /from: must be before to/,
    };
    for (const [query, detail] of Object.entries(bad)) {
      const res = await get(`/v1/usage/top?${query}`);
      assert.equal(res.status, 400, query);
      assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/);
      assert.match((await res.json() as { detail: string }).detail, detail, query);
    }
    assert.equal((await fetch(`${base}/v1/usage/top`)).status, 401);
    assert.equal((await get('/v1/usage/top', REPORT)).status, 401, 'a reporter credential is not an admin token');
  });

  it('the OpenAPI document describes it', async () => {
    const doc = await (await fetch(`${base}/openapi.json`)).json() as { paths: Record<string, { get?: { parameters?: { name: string }[] } }> };
    const names = (doc.paths['/v1/usage/top']?.get?.parameters ?? []).map((p) => p.name).sort();
    assert.deepEqual(names, ['apiId', 'by', 'from', 'limit', 'outcome', 'to']);
  });
});
