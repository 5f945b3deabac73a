// Units (operation costs, docs/usage-report.md `units`) on the control side, on the run's backend (SQLite, or
// PostgreSQL with TOLLGATE_TEST_STORE=postgres): fleet windows and replies count the units of allowed entries (one per
// request when absent), usage rollups keep requests and add units, GET /v1/usage reports them, impossible units refuse
// the report, a duplicate batch counts once, and units survive a restart. Rows stored before migration 009 (units
// NULL) and, on PostgreSQL, batch logs written before it (no units row) read as one unit per allowed request.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import pg from 'pg';
import { startControl } from '../../control/server.js';
import { openStore } from '../../control/store/open-store.js';
import type { Store } from '../../control/store/repository.js';
import { UsageService } from '../../control/usage/service.js';
import { fleetAdds } from '../../control/usage/fleet.js';
import { impossibleReport } from '../../control/usage/report-rules.js';
import { summarize } from '../../control/usage/summary.js';
import { minuteLog } from '../../control/store/postgres/batch-columns.js';
import { minuteRows } from '../../control/usage/aggregate.js';
import type { UsageEntry, UsageReport } from '../../control/store/types.js';
import { ADMIN, ON_POSTGRES, REPORT, batchId, currentMinute, seed, testApp, testStoreUrl, type TestApp } from './helpers.js';

interface Reply { duplicate: boolean; refused: number; fleet: { subscription: string; per: string; windowStart: number; others: number }[] }
interface Counts { allowed: number; rejectedQuota: number; rejectedAuth: number; rejectedForbidden: number; units: number; wouldReject: number }
interface Usage { totals: Counts; series: ({ start: string } & Counts)[] }

const REPORTER_A = '0123456789abcdef';
const REPORTER_B = 'fedcba9876543210';
const REPORTER_C = '00000000ffffffff';
const DAY = 86_400;
const iso = (t: number): string => new Date(t * 1000).toISOString();
const report = (reporter: string, entries: unknown[], extra: Record<string, unknown> = {}): Record<string, unknown> =>
  ({ version: 1, batchId: batchId(), reporter, entries, dropped: 0, ...extra });
const others = (reply: Reply, per: string): number => {
  const w = reply.fleet.find((f) => f.per === per);
  assert.ok(w !== undefined, `a ${per} window in ${JSON.stringify(reply.fleet)}`);
  return w.others;
};

describe('units: the rules without a database', () => {
  const e = (outcome: UsageEntry['outcome'], count: number, units?: number): UsageEntry =>
    ({ minute: 1_767_225_600, keyId: 'k1', apiId: 'a', outcome, count, ...(units === undefined ? {} : { units }) });
  const rep = (...entries: UsageEntry[]): UsageReport => ({ version: 1, batchId: 'a'.repeat(32), reporter: 'b'.repeat(16), entries, dropped: 0 });

  it('report rules: units only on allowed entries, at most count × the largest cost', () => {
    assert.equal(impossibleReport(rep(e('allowed', 3, 0), { ...e('allowed', 2, 2_000_000), minute: 1_767_225_660 })), undefined);
    assert.match(impossibleReport(rep(e('rejected_quota', 3, 3)))!, /^entries\[0\]\.units: only allowed requests spend units$/);
    assert.match(impossibleReport(rep(e('allowed', 2, 2_000_001)))!, /^entries\[0\]\.units: 2000001 units for 2 requests/);
    assert.match(impossibleReport(rep(e('allowed', 2, -1)))!, /integer from 0 to 4294967295/);
    assert.match(impossibleReport(rep(e('allowed', 2, 1.5)))!, /integer from 0 to 4294967295/);
  });

  it('fleet additions are units (absent: count); rejected and 0-unit entries add nothing', () => {
    const facts = new Map([['k1', { keyId: 'k1', planId: 'p', consumerId: 'c', planApiIds: ['a'], limits: [{ requests: 50, per: 'hour' as const }] }]]);
    const adds = fleetAdds([e('allowed', 2, 7), { ...e('allowed', 3), minute: 1_767_225_660 }, { ...e('allowed', 4, 0), minute: 1_767_225_720 }, e('rejected_quota', 9)], facts, 't:r');
    assert.deepEqual(adds.map((a) => [a.per, a.count, a.cap]), [['hour', 10, 50]]);
  });

  it('summary: units from allowed rows only', () => {
    const zero = { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 };
    const s = summarize([
      { start: 60, outcome: 'allowed', count: 2, units: 20, status: zero },
      { start: 60, outcome: 'rejected_quota', count: 4, units: 4, status: zero },
      { start: 120, outcome: 'allowed', count: 1, units: 0, status: zero },
    ]);
    assert.equal(s.totals.units, 20);
    assert.deepEqual(s.series.map((p) => p.units), [20, 0]);
  });

  it('the PostgreSQL batch log carries units as the last numbers row (a pre-009 log simply lacks it)', () => {
    const rows = minuteRows([e('allowed', 2, 30), { ...e('rejected_auth', 5), keyId: '' }], () => 'c');
    assert.deepEqual(rows.map((r) => r.units), [30, 0]);
    assert.equal(minuteLog(rows).numbers, '{{1767225600,1767225600},{2,5},{0,0},{0,0},{0,0},{0,0},{0,0},{30,0},{0,0}}');
  });
});

describe('units in fleet windows and replies', () => {
  let t: TestApp;
  let s: Awaited<ReturnType<typeof seed>>;
  before(async () => {
    t = await testApp();
    s = await seed(t, [{ requests: 1000, per: 'minute' }, { requests: 2000, per: 'day' }]);
  });
  after(async () => t.close());

  const post = async (body: unknown): Promise<Reply> => {
    const res = await t.report('POST', '/v1/usage/reports', body);
    assert.equal(res.statusCode, 200, res.body);
    return res.json<Reply>();
  };
  const allowed = (count: number, units?: number, minute = currentMinute()): UsageEntry =>
    ({ minute, keyId: s.keyId, apiId: s.apiId, outcome: 'allowed', count, ...(units === undefined ? {} : { units }) });

  it('adds units, not requests, to the rest of the fleet\'s count; absent units count one per request', async () => {
    await post(report(REPORTER_B, [allowed(3, 30)]));
    assert.equal(others(await post(report(REPORTER_A, [allowed(2)])), 'day'), 30, 'B spent 30 units in 3 requests');
    // B asks with its own key: it sees A's 2 requests as 2 units (no `units`: one per request).
    assert.equal(others(await post(report(REPORTER_B, [allowed(1, 0)])), 'day'), 2);
    // The 0-unit entry (free operations) added nothing for B: A still sees 30.
    assert.equal(others(await post(report(REPORTER_A, [allowed(1, 1)])), 'day'), 30);
  });

  it('rejected requests spend no units and add nothing to the fleet', async () => {
    const before = others(await post(report(REPORTER_A, [allowed(1, 0)])), 'day');
    await post(report(REPORTER_B, [{ minute: currentMinute(), keyId: s.keyId, apiId: s.apiId, outcome: 'rejected_quota', count: 50 }]));
    assert.equal(others(await post(report(REPORTER_A, [allowed(1, 0)])), 'day'), before);
  });

  it('caps a reporter\'s units in a window at the plan\'s limit for it (a limit is in units)', async () => {
    await post(report(REPORTER_C, [allowed(10, 5000)]));
    const reply = await post(report(REPORTER_A, [allowed(1, 0)]));
    assert.equal(others(reply, 'day'), 30 + 2000, 'B\'s 30 plus C capped at the day limit of 2,000 units');
  });

  it('a sync reply lists the fleet\'s units too', async () => {
    const reply = await post(report('1111111111111111', [], { sync: true }));
    const day = reply.fleet.find((f) => f.per === 'day' && f.subscription === `${s.planId}/${s.consumerId}`);
    assert.ok(day !== undefined, JSON.stringify(reply.fleet));
    // A: 2 + 1 (units 1) + the 0-unit entries; B: 30 (and a 0-unit entry); C: capped at 2,000.
    assert.equal(day.others, 3 + 30 + 2000);
  });
});

describe('units in usage rollups and GET /v1/usage', () => {
  let t: TestApp;
  let s: Awaited<ReturnType<typeof seed>>;
  const day = Math.floor(Date.now() / 86_400_000) * DAY - DAY;
  before(async () => {
    t = await testApp();
    s = await seed(t);
    const entries = [
      { minute: day + 60, keyId: s.keyId, apiId: s.apiId, outcome: 'allowed', count: 5, units: 50, status: { '2xx': 5 } },
      { minute: day + 120, keyId: s.keyId, apiId: s.apiId, outcome: 'allowed', count: 2 },
      { minute: day + 3600, keyId: s.keyId, apiId: s.apiId, outcome: 'allowed', count: 4, units: 0 },
      { minute: day + 3600, keyId: s.keyId, apiId: s.apiId, outcome: 'rejected_quota', count: 3 },
      { minute: day + 3600, keyId: '', apiId: s.apiId, outcome: 'rejected_auth', count: 7 },
    ];
    const res = await t.report('POST', '/v1/usage/reports', report(REPORTER_A, entries));
    assert.equal(res.statusCode, 200, res.body);
    // A second batch into the same hour and day buckets: the rollups add units as they add requests.
    const more = await t.report('POST', '/v1/usage/reports', report(REPORTER_B, [{ minute: day + 180, keyId: s.keyId, apiId: s.apiId, outcome: 'allowed', count: 1, units: 9 }]));
    assert.equal(more.statusCode, 200, more.body);
  });
  after(async () => t.close());

  const range = `from=${iso(day)}&to=${iso(day + DAY)}`;
  const usage = async (query: string): Promise<Usage> => {
    const res = await t.admin('GET', `/v1/usage?${range}&${query}`);
    assert.equal(res.statusCode, 200, res.body);
    return res.json<Usage>();
  };

  it('totals: requests as before, units of the allowed ones (absent = one per request), at every granularity', async () => {
    const expected = { allowed: 12, rejectedQuota: 3, rejectedAuth: 7, rejectedForbidden: 0, units: 50 + 2 + 0 + 9, wouldReject: 0 };
    for (const granularity of ['minute', 'hour', 'day']) assert.deepEqual((await usage(`granularity=${granularity}`)).totals, expected, granularity);
  });

  it('series: units per bucket', async () => {
    const minute = await usage('granularity=minute');
    assert.deepEqual(minute.series.map((p) => [p.start, p.allowed, p.units]), [
      [iso(day + 60), 5, 50], [iso(day + 120), 2, 2], [iso(day + 180), 1, 9], [iso(day + 3600), 4, 0],
    ]);
    const hour = await usage('granularity=hour');
    assert.deepEqual(hour.series.map((p) => [p.start, p.allowed, p.units]), [[iso(day), 8, 61], [iso(day + 3600), 4, 0]]);
    const dayly = await usage('granularity=day');
    assert.deepEqual(dayly.series.map((p) => [p.start, p.allowed, p.units]), [[iso(day), 12, 61]]);
  });

  it('the same after the rows are rolled up (PostgreSQL folds its batch log; SQLite rolled up on ingest)', async () => {
    await t.app.usage.rollup();
    assert.equal((await usage('granularity=hour')).totals.units, 61);
    assert.equal((await usage('granularity=minute')).totals.units, 61);
    assert.equal((await usage(`granularity=day&keyId=${s.keyId}`)).totals.units, 61);
    assert.equal((await usage(`granularity=hour&consumerId=${s.consumerId}`)).totals.units, 61);
  });

  it('the OpenAPI document describes units in totals and series', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).body;
    assert.match(doc, /units the allowed requests spent against quota/);
  });
});

describe('impossible units refuse the report', () => {
  let t: TestApp;
  let s: Awaited<ReturnType<typeof seed>>;
  before(async () => {
    t = await testApp();
    s = await seed(t);
  });
  after(async () => t.close());

  const entry = (fields: Record<string, unknown>): Record<string, unknown> =>
    ({ minute: currentMinute(), keyId: s.keyId, apiId: s.apiId, outcome: 'allowed', count: 2, ...fields });

  it('refuses units on a rejected entry, out of 0 … 4294967295, not an integer, or more than the largest cost allows', async () => {
    const onlyAllowed = /^body\/entries\/1 only allowed entries carry units or wouldReject$/;
    const cases: [Record<string, unknown>, number, RegExp][] = [
      [entry({ outcome: 'rejected_quota', units: 2 }), 400, onlyAllowed],
      [entry({ outcome: 'rejected_auth', keyId: '', units: 0 }), 400, onlyAllowed],
      [entry({ units: -1 }), 400, /entries\/1\/units must be >= 0/],
      [entry({ units: 4_294_967_296 }), 400, /entries\/1\/units must be <= 4294967295/],
      [entry({ units: 1.5 }), 400, /entries\/1\/units must be integer/],
      [entry({ units: '3' }), 400, /entries\/1\/units must be integer/],
      [entry({ units: null }), 400, /entries\/1\/units must be integer/],
      // 2 requests cannot spend more than 2 × MAX_OPERATION_COST (1,000,000) units: no correct filter sends that.
      [entry({ units: 2_000_001 }), 422, /^entries\[1\]\.units: 2000001 units for 2 requests is more than 1000000/],
    ];
    for (const [e, status, detail] of cases) {
      const res = await t.report('POST', '/v1/usage/reports', report(REPORTER_A, [entry({ count: 1, units: 1, minute: currentMinute() - 60 }), e]));
      assert.equal(res.statusCode, status, `${JSON.stringify(e)}: ${res.body}`);
      assert.match(res.headers['content-type'] as string, /problem\+json/);
      assert.match(res.json<{ detail: string }>().detail, detail, res.body);
    }
    const rejected = await t.report('POST', '/v1/usage/reports', report(REPORTER_A, [entry({ outcome: 'rejected_forbidden', units: 1 })]));
    assert.deepEqual(rejected.json<{ errors: unknown[] }>().errors, [{ path: 'body/entries/0', message: 'only allowed entries carry units or wouldReject' }]);
    const usage = (await t.admin('GET', `/v1/usage?granularity=hour&keyId=${s.keyId}`)).json<Usage>();
    assert.deepEqual(usage.totals, { allowed: 0, rejectedQuota: 0, rejectedAuth: 0, rejectedForbidden: 0, units: 0, wouldReject: 0 }, 'nothing of a refused report is stored');
  });

  it('accepts the edges: 0 units, and count × the largest cost', async () => {
    const res = await t.report('POST', '/v1/usage/reports', report(REPORTER_A, [entry({ units: 0 }), entry({ minute: currentMinute() - 60, units: 2_000_000 })]));
    assert.equal(res.statusCode, 200, res.body);
    const usage = (await t.admin('GET', `/v1/usage?granularity=hour&keyId=${s.keyId}`)).json<Usage>();
    assert.equal(usage.totals.units, 2_000_000);
    assert.equal(usage.totals.allowed, 4);
  });
});

describe('a duplicate batch with units counts once', () => {
  let t: TestApp;
  let s: Awaited<ReturnType<typeof seed>>;
  before(async () => {
    t = await testApp();
    s = await seed(t, [{ requests: 100_000, per: 'day' }]);
  });
  after(async () => t.close());

  it('the same batch id, sent again and 20 times at once, adds its units once to usage and to the fleet', async () => {
    const minute = currentMinute();
    const body = report(REPORTER_B, [{ minute, keyId: s.keyId, apiId: s.apiId, outcome: 'allowed', count: 4, units: 40 }]);
    const first = await t.report('POST', '/v1/usage/reports', body);
    assert.equal(first.json<Reply>().duplicate, false);
    const again = await Promise.all(Array.from({ length: 20 }, () => t.report('POST', '/v1/usage/reports', body)));
    assert.ok(again.every((r) => r.statusCode === 200 && r.json<Reply>().duplicate), 'every copy is a duplicate');
    const mine = await t.report('POST', '/v1/usage/reports', report(REPORTER_A, [{ minute, keyId: s.keyId, apiId: s.apiId, outcome: 'allowed', count: 1, units: 0 }]));
    assert.equal(others(mine.json<Reply>(), 'day'), 40);
    await t.app.usage.rollup();
    const usage = (await t.admin('GET', `/v1/usage?granularity=day&keyId=${s.keyId}&from=${iso(minute - DAY)}&to=${iso(minute + 60)}`)).json<Usage>();
    assert.equal(usage.totals.units, 40);
    assert.equal(usage.totals.allowed, 5);
    // Rolled up now (PostgreSQL): the fleet reads fleet_windows instead of the log, with the same answer.
    const later = await t.report('POST', '/v1/usage/reports', report(REPORTER_A, [{ minute, keyId: s.keyId, apiId: s.apiId, outcome: 'allowed', count: 1, units: 0 }]));
    assert.equal(others(later.json<Reply>(), 'day'), 40);
  });
});

describe('units across a restart', () => {
  it('are stored durably: usage totals and the fleet\'s count after the service restarts on the same store', async () => {
    const place = await testStoreUrl();
    const settings = { dbPath: place.url, adminToken: ADMIN, reportToken: REPORT, logLevel: 'silent' as const };
    const call = async (url: string, path: string, token: string, body?: unknown): Promise<{ status: number; json: unknown }> => {
      const res = await fetch(`${url}${path}`, {
        method: body === undefined ? 'GET' : 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: res.status, json: await res.json() };
    };
    const minute = currentMinute();
    const q = `/v1/usage?granularity=minute&from=${iso(minute - 3600)}&to=${iso(minute + 60)}`;
    let c = await startControl(settings);
    let ids: { apiId: string; keyId: string };
    try {
      const admin = (path: string, body: unknown): Promise<{ status: number; json: unknown }> => call(c.url, path, ADMIN, body);
      const api = (await admin('/v1/apis', { name: 'orders', pathPrefix: '/orders' })).json as { id: string };
      const plan = (await admin('/v1/plans', { name: 'gold', limits: [{ requests: 10_000, per: 'day' }], apiIds: [api.id] })).json as { id: string };
      const consumer = (await admin('/v1/consumers', { name: 'acme' })).json as { id: string };
      const key = (await admin(`/v1/consumers/${consumer.id}/keys`, { planId: plan.id })).json as { id: string };
      ids = { apiId: api.id, keyId: key.id };
      const stored = await call(c.url, '/v1/usage/reports', REPORT, report(REPORTER_B, [{ minute, keyId: key.id, apiId: api.id, outcome: 'allowed', count: 3, units: 21 }]));
      assert.equal(stored.status, 200, JSON.stringify(stored.json));
    } finally {
      await c.close();
    }
    c = await startControl(settings);
    try {
      const usage = (await call(c.url, q, ADMIN)).json as Usage;
      assert.equal(usage.totals.units, 21);
      assert.equal(usage.totals.allowed, 3);
      const reply = await call(c.url, '/v1/usage/reports', REPORT, report(REPORTER_A, [{ minute, keyId: ids.keyId, apiId: ids.apiId, outcome: 'allowed', count: 1 }]));
      assert.equal(others(reply.json as Reply, 'day'), 21);
    } finally {
      await c.close();
      await place.dispose();
    }
  });
});

describe('usage stored before units (migration 009)', () => {
  let place: Awaited<ReturnType<typeof testStoreUrl>>;
  let store: Store;
  let service: UsageService;
  let s: { apiId: string; keyId: string; consumerId: string };
  const scope = { targetId: 'default', apiIds: null };
  const hour = Math.floor(Date.now() / 3_600_000) * 3600 - 2 * 3600;

  /** Runs SQL on the store's database (a second connection, as an older tollgate would have written). */
  const exec = async (sql: string): Promise<void> => {
    if (ON_POSTGRES) {
      const c = new pg.Client({ connectionString: place.url });
      await c.connect();
      try { await c.query(sql); } finally { await c.end(); }
    } else {
      const db = new Database(place.url);
      try { db.exec(sql); } finally { db.close(); }
    }
  };
  const ingest = (entries: UsageEntry[]): Promise<unknown> => {
    const r: UsageReport = { version: 1, batchId: batchId(), reporter: REPORTER_A, entries, dropped: 0 };
    return service.ingest(r, scope, Math.floor(Date.now() / 1000));
  };
  const units = async (granularity: 'minute' | 'hour' | 'day'): Promise<{ allowed: number; units: number }> => {
    const t = (await service.query({ keyId: s.keyId, from: hour, to: hour + 3600, granularity })).totals;
    return { allowed: t.allowed, units: t.units };
  };

  before(async () => {
    place = await testStoreUrl();
    store = await openStore({ url: place.url });
    // No rollup timer: the test decides when PostgreSQL folds.
    service = new UsageService(store.usage);
    const api = await store.apis.create({ name: 'orders', pathPrefix: '/orders', hosts: [], methods: [] });
    const plan = await store.plans.create({ name: 'gold', limits: [{ requests: 1000, per: 'day' }], apiIds: [api.id] });
    const consumer = await store.consumers.create('acme');
    const key = await store.keys.create({ consumerId: consumer.id, planId: plan.id, digest: 'D'.repeat(43), prefix: 'tgk_DDDD', expiresAt: null });
    s = { apiId: api.id, keyId: key.id, consumerId: consumer.id };
  });
  after(async () => {
    await service.close();
    await store.close();
    await place.dispose();
  });

  it('rows whose units are NULL read as one unit per allowed request, and adding to them keeps that', async () => {
    await ingest([
      { minute: hour + 60, keyId: s.keyId, apiId: s.apiId, outcome: 'allowed', count: 6, units: 99 },
      { minute: hour + 60, keyId: s.keyId, apiId: s.apiId, outcome: 'rejected_quota', count: 5 },
    ]);
    await service.rollup();
    // What a database upgraded from version 8 holds: no units anywhere.
    await exec('UPDATE usage_minute SET units = NULL; UPDATE usage_hour SET units = NULL; UPDATE usage_day SET units = NULL;');
    for (const g of ['minute', 'hour', 'day'] as const) assert.deepEqual(await units(g), { allowed: 6, units: 6 }, g);
    // A new batch adds to the legacy hour and day rows: 6 (legacy, one each) + 10.
    await ingest([{ minute: hour + 120, keyId: s.keyId, apiId: s.apiId, outcome: 'allowed', count: 2, units: 10 }]);
    await service.rollup();
    for (const g of ['minute', 'hour', 'day'] as const) assert.deepEqual(await units(g), { allowed: 8, units: 16 }, g);
    // The rejected legacy row spent nothing.
    const rejected = (await service.query({ keyId: s.keyId, from: hour, to: hour + 3600, granularity: 'hour' })).totals;
    assert.equal(rejected.rejectedQuota, 5);
  });

  it('a batch logged before 009 (no units row in its log) reads and folds as one unit per allowed request', { skip: ON_POSTGRES ? false : 'PostgreSQL only: SQLite has no batch log' }, async () => {
    const before = await units('hour');
    await ingest([{ minute: hour + 180, keyId: s.keyId, apiId: s.apiId, outcome: 'allowed', count: 3, units: 30 }]);
    // Cut the log back to what version 8 wrote: start, count and the five status classes.
    await exec('UPDATE usage_batches SET log_numbers = log_numbers[1:7] WHERE NOT rolled_up');
    assert.deepEqual(await units('hour'), { allowed: before.allowed + 3, units: before.units + 3 }, 'pending');
    await service.rollup();
    for (const g of ['minute', 'hour', 'day'] as const) assert.deepEqual(await units(g), { allowed: before.allowed + 3, units: before.units + 3 }, `folded, ${g}`);
  });
});
