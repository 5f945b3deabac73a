import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { batchId, currentMinute, seed, testApp, type TestApp } from './helpers.js';

const replySchema = JSON.parse(readFileSync(new URL('../../schemas/usage-reply.v2.schema.json', import.meta.url), 'utf8')) as object;
const validateReply = new Ajv2020().compile(replySchema);

interface Reply { version: 2; batchId: string; duplicate: boolean; refused: number; fleet: { subscription: string; per: string; windowStart: number; others: number }[] }
interface Usage { totals: Record<string, number>; series: ({ start: string } & Record<string, number>)[] }

const REPORTER_A = '0123456789abcdef';
const REPORTER_B = 'fedcba9876543210';

describe('POST /v1/usage/reports', () => {
  let t: TestApp;
  let s: Awaited<ReturnType<typeof seed>>;
  before(async () => {
    t = await testApp();
    s = await seed(t, [{ requests: 5, per: 'second' }, { requests: 100, per: 'minute' }, { requests: 1000, per: 'day' }]);
  });
  after(async () => t.close());

  const report = (entries: unknown[], extra: Record<string, unknown> = {}) => ({ version: 1, batchId: batchId(), reporter: REPORTER_A, entries, dropped: 0, ...extra });

  it('stores a report, replies per the schema with the fleet windows of the key\'s subscription (minute and longer)', async () => {
    const res = await t.report('POST', '/v1/usage/reports', report([{ minute: currentMinute(), keyId: s.keyId, apiId: s.apiId, outcome: 'allowed', count: 7, status: { '2xx': 7 } }]));
    assert.equal(res.statusCode, 200);
    const reply = res.json<Reply>();
    assert.equal(validateReply(reply), true, JSON.stringify(validateReply.errors));
    assert.equal(reply.duplicate, false);
    assert.deepEqual(reply.fleet.map((f) => f.per).sort(), ['day', 'minute']);
    assert.ok(reply.fleet.every((f) => f.subscription === `${s.planId}/${s.consumerId}` && f.others === 0));
  });

  it('reports the rest of the fleet, never the asking reporter itself', async () => {
    const minute = currentMinute();
    await t.report('POST', '/v1/usage/reports', report([{ minute, keyId: s.keyId, apiId: s.apiId, outcome: 'allowed', count: 11 }], { reporter: REPORTER_B }));
    const mine = await t.report('POST', '/v1/usage/reports', report([{ minute, keyId: s.keyId, apiId: s.apiId, outcome: 'allowed', count: 1 }]));
    const dayA = mine.json<Reply>().fleet.find((f) => f.per === 'day')!;
    assert.equal(dayA.others, 11);
    const theirs = await t.report('POST', '/v1/usage/reports', report([{ minute, keyId: s.keyId, apiId: s.apiId, outcome: 'rejected_quota', count: 3 }], { reporter: REPORTER_B }));
    const dayB = theirs.json<Reply>().fleet.find((f) => f.per === 'day')!;
    assert.equal(dayB.others, 8, 'A reported 7 + 1 allowed; rejected requests do not count against quota');
  });

  it('counts a batch once however often and however concurrently it arrives', async () => {
    const minute = currentMinute() - 3600;
    const body = report([{ minute, keyId: s.keyId, apiId: s.apiId, outcome: 'rejected_auth', count: 4 }], { dropped: 2 });
    const replies = await Promise.all(Array.from({ length: 40 }, () => t.report('POST', '/v1/usage/reports', body)));
    assert.ok(replies.every((r) => r.statusCode === 200));
    assert.equal(replies.filter((r) => !r.json<Reply>().duplicate).length, 1);
    const from = new Date(minute * 1000).toISOString();
    const to = new Date((minute + 60) * 1000).toISOString();
    const usage = (await t.admin('GET', `/v1/usage?from=${from}&to=${to}&granularity=minute`)).json<Usage>();
    assert.equal(usage.totals.rejectedAuth, 4);
    const metrics = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
    assert.match(metrics, /tollgate_usage_dropped_total 2/);
    assert.match(metrics, /tollgate_usage_batches_total\{result="duplicate"\} 39/);
  });

  it('rejects malformed reports with 400, a bad token with 401 and oversized bodies with 413', async () => {
    const good = { minute: currentMinute(), keyId: s.keyId, apiId: s.apiId, outcome: 'allowed', count: 1 };
    for (const body of [
      report([good], { extra: true }),
      report([{ ...good, colour: 'red' }]),
      report([{ ...good, minute: 61 }]),
      report([{ ...good, count: 0 }]),
      report([{ ...good, outcome: 'maybe' }]),
      report([good], { batchId: 'XYZ' }),
      report([good], { version: 2 }),
      { ...report([good]), reporter: undefined },
    ]) {
      const res = await t.report('POST', '/v1/usage/reports', body);
      assert.equal(res.statusCode, 400, JSON.stringify(body));
      assert.match(res.headers['content-type'] as string, /problem\+json/);
    }
    const unauth = await t.app.inject({ method: 'POST', url: '/v1/usage/reports', headers: { authorization: 'Bearer nope-nope-nope-nope' }, payload: report([good]) });
    assert.equal(unauth.statusCode, 401);
    const huge = report(Array.from({ length: 50_000 }, () => ({ ...good, keyId: 'k'.repeat(64), apiId: 'a'.repeat(64) })));
    const big = await t.report('POST', '/v1/usage/reports', huge);
    assert.equal(big.statusCode, 413);
  });
});

describe('GET /v1/usage', () => {
  let t: TestApp;
  let s: Awaited<ReturnType<typeof seed>>;
  const day = Math.floor(Date.now() / 86_400_000) * 86_400 - 86_400;
  before(async () => {
    t = await testApp();
    s = await seed(t);
    const entries = [
      { minute: day + 60, keyId: s.keyId, apiId: s.apiId, outcome: 'allowed', count: 5, status: { '2xx': 4, '5xx': 1 } },
      { minute: day + 120, keyId: s.keyId, apiId: s.apiId, outcome: 'allowed', count: 6, status: { '2xx': 5 } },
      { minute: day + 3600, keyId: s.keyId, apiId: s.apiId, outcome: 'rejected_quota', count: 2 },
      { minute: day + 3600, keyId: '', apiId: s.apiId, outcome: 'rejected_auth', count: 9 },
      { minute: day + 7200, keyId: s.keyId, apiId: '', outcome: 'rejected_forbidden', count: 1 },
    ];
    await t.report('POST', '/v1/usage/reports', { version: 1, batchId: batchId(), reporter: REPORTER_A, entries, dropped: 0 });
  });
  after(async () => t.close());

  const range = `from=${new Date(day * 1000).toISOString()}&to=${new Date((day + 86_400) * 1000).toISOString()}`;

  it('aggregates per minute, hour and day with totals', async () => {
    const minute = (await t.admin('GET', `/v1/usage?${range}&granularity=minute`)).json<Usage>();
    assert.deepEqual(minute.totals, { allowed: 11, rejectedQuota: 2, rejectedAuth: 9, rejectedForbidden: 1, units: 11, wouldReject: 0 });
    assert.equal(minute.series.length, 4);
    const hour = (await t.admin('GET', `/v1/usage?${range}&granularity=hour`)).json<Usage>();
    assert.equal(hour.series.length, 3);
    assert.equal(hour.series[0]!.allowed, 11);
    assert.equal(hour.series[0]!.start, new Date(day * 1000).toISOString());
    const dayly = (await t.admin('GET', `/v1/usage?${range}&granularity=day`)).json<Usage>();
    assert.equal(dayly.series.length, 1);
    assert.deepEqual(dayly.totals, minute.totals);
  });

  it('keeps the upstream status classes of allowed requests, in totals and per point', async () => {
    const zero = { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 };
    for (const granularity of ['minute', 'hour', 'day']) {
      const u = (await t.admin('GET', `/v1/usage?${range}&granularity=${granularity}`)).json<{ upstreamStatus: typeof zero; series: { upstreamStatus: typeof zero }[] }>();
      assert.deepEqual(u.upstreamStatus, { ...zero, '2xx': 9, '5xx': 1 }, granularity);
      const perPoint = u.series.reduce((n, p) => n + p.upstreamStatus['2xx'] + p.upstreamStatus['5xx'], 0);
      assert.equal(perPoint, 10, granularity);
    }
  });

  it('filters by key, consumer and API', async () => {
    const byKey = (await t.admin('GET', `/v1/usage?${range}&keyId=${s.keyId}`)).json<Usage>();
    assert.deepEqual(byKey.totals, { allowed: 11, rejectedQuota: 2, rejectedAuth: 0, rejectedForbidden: 1, units: 11, wouldReject: 0 });
    const byConsumer = (await t.admin('GET', `/v1/usage?${range}&consumerId=${s.consumerId}`)).json<Usage>();
    assert.deepEqual(byConsumer.totals, byKey.totals);
    const byApi = (await t.admin('GET', `/v1/usage?${range}&apiId=${s.apiId}`)).json<Usage>();
    assert.equal(byApi.totals.rejectedAuth, 9);
    assert.equal(byApi.totals.rejectedForbidden, 0);
  });

  it('rejects bad queries', async () => {
    assert.equal((await t.admin('GET', '/v1/usage?granularity=week')).statusCode, 400);
    assert.equal((await t.admin('GET', '/v1/usage?from=yesterday')).statusCode, 400);
    assert.equal((await t.admin('GET', `/v1/usage?from=${new Date().toISOString()}&to=2001-01-01T00:00:00Z`)).statusCode, 400);
    assert.equal((await t.admin('GET', '/v1/usage?keyId=a%20b')).statusCode, 400);
    const tooWide = await t.admin('GET', '/v1/usage?from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z&granularity=minute');
    assert.equal(tooWide.statusCode, 400);
    assert.match(tooWide.json<{ detail: string }>().detail, /buckets/);
    assert.equal((await t.admin('GET', '/v1/usage?from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z&granularity=day')).statusCode, 200);
  });
});

describe('concurrent duplicates over real HTTP', () => {
  it('counts a batch once when 50 connections deliver it at the same time', async () => {
    const { startControl } = await import('../../control/server.js');
    const { testStoreUrl, ADMIN, REPORT } = await import('./helpers.js');
    const place = await testStoreUrl();
    const c = await startControl({ dbPath: place.url, adminToken: ADMIN, reportToken: REPORT, logLevel: 'silent' });
    try {
      const minute = currentMinute() - 7200;
      const body = JSON.stringify({ version: 1, batchId: batchId(), reporter: REPORTER_A, dropped: 0, entries: [{ minute, keyId: '', apiId: '', outcome: 'rejected_auth', count: 13 }] });
      const replies = await Promise.all(Array.from({ length: 50 }, async () => {
        const res = await fetch(`${c.url}/v1/usage/reports`, { method: 'POST', headers: { authorization: `Bearer ${REPORT}`, 'content-type': 'application/json' }, body });
        return { status: res.status, reply: (await res.json()) as Reply };
      }));
      assert.ok(replies.every((r) => r.status === 200));
      assert.equal(replies.filter((r) => !r.reply.duplicate).length, 1);
      const q = `from=${new Date(minute * 1000).toISOString()}&to=${new Date((minute + 60) * 1000).toISOString()}&granularity=minute`;
      const usage = (await (await fetch(`${c.url}/v1/usage?${q}`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as Usage;
      assert.equal(usage.totals.rejectedAuth, 13);
    } finally {
      await c.close();
      await place.dispose();
    }
  });
});
