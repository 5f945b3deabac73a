// Shadow mode and operations in usage reports on the control side, on the run's backend (SQLite, or PostgreSQL with
// TOLLGATE_TEST_STORE=postgres): wouldReject stored in the rollups, queried at every granularity and counted in the
// metric once per batch; impossible values refused with nothing stored; entries told apart by operationId; the
// unscoped fleet windows unchanged by the new fields; scoped fleet windows (per subscription × API / operation scope a
// limit names, plan limits and operation defaults) in usage replies, sync replies and the key feed, capped, counted
// once for a duplicate batch, and the pure rules behind them.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { impossibleReport } from '../../control/usage/report-rules.js';
import { fleetAdds, scopedCapsOf } from '../../control/usage/fleet.js';
import { windowStart } from '../../control/usage/windows.js';
import { summarize } from '../../control/usage/summary.js';
import type { UsageEntry, UsageReport } from '../../control/store/types.js';
import { ADMIN, ON_POSTGRES, batchId, currentMinute, seed, testApp, testStoreUrl, type TestApp } from './helpers.js';
import { storeAtVersion } from './old-store.js';

interface Counts { allowed: number; rejectedQuota: number; units: number; wouldReject: number }
interface Usage { totals: Counts; series: ({ start: string } & Counts)[] }
interface Reply { duplicate: boolean; refused: number; fleet: { subscription: string; per: string; windowStart: number; others: number; scope?: string }[] }

const REPORTER_A = '0123456789abcdef';
const REPORTER_B = 'fedcba9876543210';
const DAY = 86_400;
const iso = (t: number): string => new Date(t * 1000).toISOString();
const report = (reporter: string, entries: unknown[], extra: Record<string, unknown> = {}): Record<string, unknown> =>
  ({ version: 1, batchId: batchId(), reporter, entries, dropped: 0, ...extra });

describe('wouldReject: the rules without a database', () => {
  const e = (extra: Partial<UsageEntry>): UsageEntry => ({ minute: 1_767_225_600, keyId: 'k1', apiId: 'a', outcome: 'allowed', count: 3, ...extra });
  const rep = (...entries: UsageEntry[]): UsageReport => ({ version: 1, batchId: 'a'.repeat(32), reporter: 'b'.repeat(16), entries, dropped: 0 });

  it('allowed entries only, at most count; operationId tells entries apart and needs an API', () => {
    assert.equal(impossibleReport(rep(e({ wouldReject: 3 }))), undefined);
    assert.match(impossibleReport(rep(e({ wouldReject: 4 })))!, /^entries\[0\]\.wouldReject: 4 would-be rejections of 3 requests$/);
    assert.match(impossibleReport(rep(e({ outcome: 'rejected_quota', wouldReject: 1 })))!, /^entries\[0\]\.wouldReject: only allowed requests/);
    assert.match(impossibleReport(rep(e({ wouldReject: 1.5 })))!, /non-negative integer/);
    assert.equal(impossibleReport(rep(e({ operationId: 'op_a' }), e({ operationId: 'op_b' }), e({}))), undefined);
    assert.match(impossibleReport(rep(e({ operationId: 'op_a' }), e({ operationId: 'op_a' })))!, /operationId and outcome appear twice/);
    assert.match(impossibleReport(rep(e({ apiId: '', operationId: 'op_a' })))!, /operationId: an operation belongs to an API/);
  });

  it('summary: wouldReject from allowed rows; rows without it read as 0', () => {
    const zero = { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 };
    const s = summarize([
      { start: 60, outcome: 'allowed', count: 5, units: 5, wouldReject: 2, status: zero },
      { start: 60, outcome: 'allowed', count: 1, units: 1, status: zero },
      { start: 120, outcome: 'rejected_quota', count: 4, units: 0, wouldReject: 9, status: zero },
    ]);
    assert.equal(s.totals.wouldReject, 2);
    assert.deepEqual(s.series.map((p) => p.wouldReject), [2, 0]);
  });
});

describe('wouldReject in usage rollups, GET /v1/usage and the metric', () => {
  let t: TestApp;
  let s: Awaited<ReturnType<typeof seed>>;
  const day = Math.floor(Date.now() / 86_400_000) * DAY - DAY;
  const range = `from=${iso(day)}&to=${iso(day + DAY)}`;
  const usage = async (query: string): Promise<Usage> => {
    const res = await t.admin('GET', `/v1/usage?${range}&${query}`);
    assert.equal(res.statusCode, 200, res.body);
    return res.json<Usage>();
  };
  const metric = async (): Promise<number> => {
    const text = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
    const line = text.split('\n').find((l) => l.startsWith('tollgate_usage_would_reject_total '));
    assert.ok(line !== undefined, 'the metric is exported');
    return Number(line.split(' ')[1]);
  };
  let first: Record<string, unknown>;

  before(async () => {
    t = await testApp();
    s = await seed(t);
    first = report(REPORTER_A, [
      // Two operations of one API in one minute: two entries, told apart by operationId.
      { minute: day + 60, keyId: s.keyId, apiId: s.apiId, operationId: 'op_list', outcome: 'allowed', count: 5, wouldReject: 2 },
      { minute: day + 60, keyId: s.keyId, apiId: s.apiId, operationId: 'op_get', outcome: 'allowed', count: 4, units: 8, wouldReject: 4 },
      { minute: day + 3600, keyId: s.keyId, apiId: s.apiId, outcome: 'allowed', count: 3 },
      { minute: day + 3600, keyId: s.keyId, apiId: s.apiId, outcome: 'rejected_quota', count: 6 },
    ]);
    const res = await t.report('POST', '/v1/usage/reports', first);
    assert.equal(res.statusCode, 200, res.body);
    const more = await t.report('POST', '/v1/usage/reports', report(REPORTER_B, [
      { minute: day + 120, keyId: s.keyId, apiId: s.apiId, outcome: 'allowed', count: 1, wouldReject: 1 },
    ]));
    assert.equal(more.statusCode, 200, more.body);
  });
  after(async () => t.close());

  it('totals at every granularity, before and after the rollup', async () => {
    const expected = { allowed: 13, rejectedQuota: 6, rejectedAuth: 0, rejectedForbidden: 0, units: 5 + 8 + 3 + 1, wouldReject: 7 };
    for (const g of ['minute', 'hour', 'day']) assert.deepEqual((await usage(`granularity=${g}`)).totals, expected, g);
    await t.app.usage.rollup();
    for (const g of ['minute', 'hour', 'day']) assert.deepEqual((await usage(`granularity=${g}`)).totals, expected, `${g}, rolled up`);
  });

  it('series: per bucket', async () => {
    const minute = await usage('granularity=minute');
    assert.deepEqual(minute.series.map((p) => [p.start, p.allowed, p.wouldReject]), [[iso(day + 60), 9, 6], [iso(day + 120), 1, 1], [iso(day + 3600), 3, 0]]);
    const hour = await usage('granularity=hour');
    assert.deepEqual(hour.series.map((p) => [p.start, p.wouldReject]), [[iso(day), 7], [iso(day + 3600), 0]]);
  });

  it('a duplicate batch is counted once, in the rollups and in the metric', async () => {
    const metricBefore = await metric();
    assert.equal(metricBefore, 7);
    const again = await t.report('POST', '/v1/usage/reports', first);
    assert.equal(again.statusCode, 200);
    assert.equal(again.json<Reply>().duplicate, true);
    assert.equal(await metric(), metricBefore);
    assert.equal((await usage('granularity=day')).totals.wouldReject, 7);
  });

  it('impossible wouldReject refuses the report (400 by the schema, 422 by the rules) and stores nothing', async () => {
    const entry = (extra: Record<string, unknown>) => ({ minute: currentMinute(), keyId: s.keyId, apiId: s.apiId, outcome: 'allowed', count: 2, ...extra });
    const cases: [Record<string, unknown>, number, RegExp][] = [
      [entry({ wouldReject: 3 }), 422, /wouldReject: 3 would-be rejections of 2 requests/],
      [entry({ outcome: 'rejected_quota', wouldReject: 1 }), 400, /wouldReject/],
      [entry({ wouldReject: 0 }), 400, /wouldReject/],
      [entry({ wouldReject: -1 }), 400, /wouldReject/],
      [entry({ operationId: 'has space' }), 400, /operationId/],
    ];
    const today = Math.floor(Date.now() / 86_400_000) * DAY;
    const before = await t.admin('GET', `/v1/usage?from=${iso(today)}&to=${iso(today + DAY)}&granularity=day`);
    for (const [e, status, detail] of cases) {
      const res = await t.report('POST', '/v1/usage/reports', report(REPORTER_A, [e]));
      assert.equal(res.statusCode, status, `${JSON.stringify(e)}: ${res.body}`);
      assert.match(res.body, detail);
    }
    const afterAll = await t.admin('GET', `/v1/usage?from=${iso(today)}&to=${iso(today + DAY)}&granularity=day`);
    assert.deepEqual(afterAll.json(), before.json(), 'nothing of a refused report is stored');
  });

  it('unscoped fleet windows are unchanged: entries with operationId and wouldReject add their units, replies carry no scope', async () => {
    const now = currentMinute();
    const a = await t.report('POST', '/v1/usage/reports', report(REPORTER_A, [
      { minute: now, keyId: s.keyId, apiId: s.apiId, operationId: 'op_list', outcome: 'allowed', count: 3, wouldReject: 3 },
    ]));
    assert.equal(a.statusCode, 200, a.body);
    const b = await t.report('POST', '/v1/usage/reports', report(REPORTER_B, [{ minute: now, keyId: s.keyId, apiId: s.apiId, outcome: 'allowed', count: 1 }]));
    const fleet = b.json<Reply>().fleet;
    assert.deepEqual(fleet.map((f) => [f.per, f.others, f.scope]), [['minute', 3, undefined]]);
    const sync = (await t.report('POST', '/v1/usage/reports', report('1111111111111111', [], { sync: true }))).json<Reply>().fleet;
    assert.ok(sync.every((f) => f.scope === undefined), JSON.stringify(sync));
  });
});

describe('scoped fleet windows: the rules without a database', () => {
  const limits = [
    { requests: 1000, per: 'day' as const }, { requests: 9, per: 'second' as const, apiId: 'a' },
    { requests: 50, per: 'hour' as const, apiId: 'a' }, { requests: 60, per: 'hour' as const, apiId: 'a', id: 'more', shadow: true },
    { requests: 5, per: 'minute' as const, apiId: 'a', operationId: 'op_g' },
  ];
  const operationLimits = [{ apiId: 'a', operationId: 'op_l', limits: [{ requests: 100, per: 'minute' as const }] }];

  it('caps per scope and window size: the largest limit; seconds are not shared; operation defaults scoped to their operation', () => {
    const caps = scopedCapsOf(limits, operationLimits);
    assert.deepEqual([...caps.entries()].map(([scope, c]) => [scope, [...c.entries()]]), [
      ['', [['day', 1000]]], ['a', [['hour', 60]]], ['a/op_g', [['minute', 5]]], ['a/op_l', [['minute', 100]]],
    ]);
    assert.deepEqual([...scopedCapsOf([{ requests: 5, per: 'minute', apiId: 'a' }]).entries()].map(([s, c]) => [s, c.size]), [['', 0], ['a', 1]],
      'a plan with only scoped limits has no unscoped windows');
  });

  it('an entry adds its units to the subscription, its API and its operation windows that a limit names', () => {
    const facts = new Map([['k1', { keyId: 'k1', planId: 'p', consumerId: 'c', planApiIds: ['a'], limits, operationLimits }]]);
    const minute = 1_767_225_600;
    const adds = fleetAdds([
      { minute, keyId: 'k1', apiId: 'a', operationId: 'op_g', outcome: 'allowed', count: 2, units: 4 },
      { minute, keyId: 'k1', apiId: 'a', operationId: 'op_l', outcome: 'allowed', count: 3 },
      { minute, keyId: 'k1', apiId: 'a', operationId: 'op_x', outcome: 'allowed', count: 1 },
      { minute, keyId: 'k1', apiId: 'a', operationId: 'op_g', outcome: 'rejected_quota', count: 7 },
    ], facts, 't:r');
    const view = adds.map((a) => [a.scope ?? '', a.per, a.count, a.cap]).sort((x, y) => String(x).localeCompare(String(y)));
    assert.deepEqual(view, [['', 'day', 8, 1000], ['a', 'hour', 8, 60], ['a/op_g', 'minute', 4, 5], ['a/op_l', 'minute', 3, 100]]);
    assert.ok(adds.filter((a) => a.scope === undefined).every((a) => !('scope' in a)), 'unscoped additions carry no scope, as before');
  });
});

describe('scoped fleet windows over REST', () => {
  let t: TestApp;
  let apiId: string;
  let opGet: string;
  let opList: string;
  let sub: string;
  let keyId: string;
  const ok = { 200: { description: 'ok' } };
  const A = '0123456789abcdef';
  const B = 'fedcba9876543210';
  const C = '00000000ffffffff';
  const post = async (body: Record<string, unknown>): Promise<Reply> => {
    const res = await t.report('POST', '/v1/usage/reports', body);
    assert.equal(res.statusCode, 200, res.body);
    return res.json<Reply>();
  };
  const windows = (reply: { fleet?: Reply['fleet'] }) => Object.fromEntries((reply.fleet ?? []).filter((f) => f.subscription === sub)
    .map((f) => [`${f.scope ?? ''}|${f.per}`, f.others]));

  before(async () => {
    t = await testApp();
    const doc = {
      openapi: '3.1.0', info: { title: 'Scoped', version: '1' }, servers: [{ url: '/s' }],
      paths: {
        '/items': { get: { operationId: 'list', responses: ok, 'x-tollgate': { limits: [{ requests: 100, per: 'minute' }] } } },
        '/items/{id}': { get: { operationId: 'get', responses: ok } },
      },
    };
    const imported = await t.app.inject({ method: 'POST', url: '/v1/apis:import', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, payload: JSON.stringify(doc) });
    assert.equal(imported.statusCode, 201, imported.body);
    const r = imported.json<{ api: { id: string }; operations: { id: string; key: string }[] }>();
    apiId = r.api.id;
    opGet = r.operations.find((o) => o.key === 'get')!.id;
    opList = r.operations.find((o) => o.key === 'list')!.id;
    const plan = (await t.admin('POST', '/v1/plans', {
      name: 'scoped', apiIds: [apiId],
      limits: [{ requests: 1000, per: 'day' }, { requests: 50, per: 'hour', apiId }, { requests: 5, per: 'minute', apiId, operationId: opGet }],
    })).json<{ id: string }>();
    const consumer = (await t.admin('POST', '/v1/consumers', { name: 'scoped' })).json<{ id: string }>();
    keyId = (await t.admin('POST', `/v1/consumers/${consumer.id}/keys`, { planId: plan.id })).json<{ id: string }>().id;
    sub = `${plan.id}/${consumer.id}`;
  });
  after(async () => t.close());

  it('a reply lists the unscoped windows, then one per scope a limit (or an operation default) names, counted from the matching entries', async () => {
    const m = currentMinute();
    const first = report(A, [
      { minute: m, keyId, apiId, operationId: opList, outcome: 'allowed', count: 3 },
      { minute: m, keyId, apiId, operationId: opGet, outcome: 'allowed', count: 2, units: 4 },
      { minute: m, keyId, apiId, operationId: opGet, outcome: 'rejected_quota', count: 9 },
    ]);
    assert.deepEqual(windows(await post(first)), { '|day': 0, [`${apiId}|hour`]: 0, [`${apiId}/${opGet}|minute`]: 0, [`${apiId}/${opList}|minute`]: 0 });
    const expected = { '|day': 7, [`${apiId}|hour`]: 7, [`${apiId}/${opGet}|minute`]: 4, [`${apiId}/${opList}|minute`]: 3 };
    const b = await post(report(B, [{ minute: m, keyId, apiId, operationId: opGet, outcome: 'allowed', count: 1 }]));
    assert.deepEqual(windows(b), expected);
    // A duplicate of A's batch adds nothing.
    assert.equal((await post(first)).duplicate, true);
    assert.deepEqual(windows(await post(report(B, [{ minute: m, keyId, apiId, operationId: opGet, outcome: 'allowed', count: 1 }]))), expected);
    // A sees B's two requests to the operation, in every scope they count in.
    assert.deepEqual(windows(await post(report(A, []))), {});
    const a = await post(report(A, [{ minute: m, keyId, apiId, operationId: opList, outcome: 'allowed', count: 1 }]));
    assert.deepEqual(windows(a), { '|day': 2, [`${apiId}|hour`]: 2, [`${apiId}/${opGet}|minute`]: 2, [`${apiId}/${opList}|minute`]: 0 });
  });

  it('a reporter\'s scoped count is capped at the scope\'s largest limit', async () => {
    const m = currentMinute();
    await post(report(C, [{ minute: m, keyId, apiId, operationId: opGet, outcome: 'allowed', count: 40 }]));
    const w = windows(await post(report(B, [{ minute: m, keyId, apiId, operationId: opList, outcome: 'allowed', count: 1 }])));
    assert.equal(w[`${apiId}/${opGet}|minute`], 4 + 5, 'A\'s 4 units plus C capped at the operation\'s 5');
    assert.equal(w[`${apiId}|hour`], 8 + 40, 'the API window counts C\'s 40 (under its cap of 50)');
  });

  it('a sync reply and the key feed snapshot carry the scoped windows with their scope', async () => {
    const sync = windows(await post(report('1111111111111111', [], { sync: true })));
    assert.ok(sync[`${apiId}/${opGet}|minute`]! > 0 && sync[`${apiId}|hour`]! > 0 && sync['|day']! > 0, JSON.stringify(sync));
    const snap = await t.report('GET', '/v1/keyfeed/snapshot?reporter=2222222222222222');
    assert.equal(snap.statusCode, 200, snap.body);
    const feed = windows(snap.json<{ fleet?: Reply['fleet'] }>());
    assert.deepEqual(feed, sync);
  });
});

describe('migration 011 (scoped fleet windows)', () => {
  it('fleet counts stored before read as unscoped windows (and, on PostgreSQL, a pending batch log without a scope row)', async () => {
    const place = await testStoreUrl();
    const day = windowStart('day', Math.floor(Date.now() / 1000));
    const rows = [
      "INSERT INTO apis (id, name, path_prefix, hosts, methods, created_at, updated_at) VALUES ('api_old0000000', 'old', '/old', '[]', '[]', 1, 1)",
      "INSERT INTO plans (id, name, limits, created_at, updated_at) VALUES ('pln_old0000000', 'gold', '[{\"requests\":100,\"per\":\"day\"}]', 1, 1)",
      "INSERT INTO plan_apis VALUES ('pln_old0000000', 'api_old0000000')",
      `INSERT INTO fleet_windows (plan_id, consumer_id, per, window_start, reporter, count, cap) VALUES ('pln_old0000000', 'con_old0000000', 'day', ${day}, 'default:aaaaaaaaaaaaaaaa', 6, 100)`,
    ];
    try {
      // A batch stored by a version-10 replica, not folded yet: its fleet log has four text rows (no scope).
      const pending = `INSERT INTO usage_batches (batch_id, reporter, received_at, entries, dropped, target_id, refused, rolled_up, fleet_numbers, fleet_texts)
            VALUES ('${'c'.repeat(32)}', 'bbbbbbbbbbbbbbbb', 1, 1, 0, 'default', 0, false, '{{${day}},{3},{100}}', '{{pln_old0000000},{con_old0000000},{day},{default:bbbbbbbbbbbbbbbb}}')`;
      await storeAtVersion(place.url, 10, ON_POSTGRES ? [...rows, pending] : rows);
      const t = await testApp({ dbPath: place.url });
      try {
        const res = await t.report('POST', '/v1/usage/reports', report('1111111111111111', [], { sync: true }));
        assert.equal(res.statusCode, 200, res.body);
        const w = res.json<Reply>().fleet.filter((f) => f.subscription === 'pln_old0000000/con_old0000000');
        assert.deepEqual(w.map((f) => [f.per, f.others, f.scope]), [['day', ON_POSTGRES ? 6 + 3 : 6, undefined]]);
        await t.app.usage.rollup();
        const again = (await t.report('POST', '/v1/usage/reports', report('1111111111111111', [], { sync: true }))).json<Reply>().fleet
          .filter((f) => f.subscription === 'pln_old0000000/con_old0000000');
        assert.deepEqual(again.map((f) => [f.per, f.others, f.scope]), [['day', ON_POSTGRES ? 6 + 3 : 6, undefined]], 'the same once folded');
      } finally {
        await t.close();
      }
    } finally {
      await place.dispose();
    }
  });
});
