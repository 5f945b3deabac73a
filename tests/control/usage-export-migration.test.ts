// Billing rows (migration 016, docs/usage-export.md) on the run's backend (SQLite, or PostgreSQL with
// TOLLGATE_TEST_STORE=postgres): usage stored before the migration is exported with the key's plan and operation ''
// (on PostgreSQL also a batch still pending in the log, written without the operation and plan rows), and usage is
// attributed to the plan a key was on when its report was stored, not the plan it is on at export time.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import pg from 'pg';
import { ADMIN, ON_POSTGRES, REPORT, batchId, currentMinute, testApp, testStoreUrl, type TestApp } from './helpers.js';
import { storeAtVersion } from './old-store.js';

interface Row { period_start: string; consumer_id?: string; plan_id?: string; api_id?: string; operation_id?: string; requests: number; units: number; rejected_quota: number }

const iso = (t: number): string => new Date(t * 1000).toISOString().replace('.000Z', 'Z');

async function exportRows(t: TestApp, query: string): Promise<Row[]> {
  const res = await t.app.inject({ method: 'GET', url: `/v1/usage/export?format=ndjson&${query}`, headers: { authorization: `Bearer ${ADMIN}` } });
  assert.equal(res.statusCode, 200, res.body);
  const lines = res.body.trim().split('\n').map((l) => JSON.parse(l) as Row & { end?: true });
  assert.equal(lines.pop()!.end, true);
  return lines;
}

async function sql(t: TestApp, statement: string): Promise<void> {
  if (ON_POSTGRES) {
    const c = new pg.Client({ connectionString: t.dbPath });
    await c.connect();
    try { await c.query(statement); } finally { await c.end(); }
    return;
  }
  const db = new Database(t.dbPath);
  try { db.exec(statement); } finally { db.close(); }
}

describe('migration 016 (billing rows)', () => {
  it('usage stored before is exported with the key\'s plan and operation \'\' (and, on PostgreSQL, a pending pre-016 log)', async () => {
    const place = await testStoreUrl();
    const hour = Math.floor(Date.now() / 3_600_000) * 3600 - 7200;
    const rows = [
      "INSERT INTO apis (id, name, path_prefix, hosts, methods, created_at, updated_at) VALUES ('api_old0000000', 'old', '/old', '[]', '[]', 1, 1)",
      "INSERT INTO plans (id, name, limits, created_at, updated_at) VALUES ('pln_old0000000', 'gold', '[{\"requests\":100,\"per\":\"day\"}]', 1, 1)",
      "INSERT INTO plan_apis VALUES ('pln_old0000000', 'api_old0000000')",
      "INSERT INTO consumers (id, name, created_at, updated_at) VALUES ('con_old0000000', 'acme', 1, 1)",
      `INSERT INTO api_keys (id, consumer_id, plan_id, digest, prefix, created_at) VALUES ('key_old0000000', 'con_old0000000', 'pln_old0000000', '${'d'.repeat(64)}', 'tgk_abcd', 1)`,
      // Before 009 units were NULL (one per allowed request); a deleted key's usage keeps consumer '' and gets plan ''.
      `INSERT INTO usage_hour (start, key_id, api_id, outcome, consumer_id, count, units) VALUES (${hour}, 'key_old0000000', 'api_old0000000', 'allowed', 'con_old0000000', 5, NULL)`,
      `INSERT INTO usage_hour (start, key_id, api_id, outcome, consumer_id, count, units) VALUES (${hour}, 'key_old0000000', 'api_old0000000', 'rejected_quota', 'con_old0000000', 2, NULL)`,
      `INSERT INTO usage_hour (start, key_id, api_id, outcome, consumer_id, count, units) VALUES (${hour + 3600}, 'key_gone000000', 'api_old0000000', 'allowed', '', 4, 8)`,
    ];
    // A batch a version-15 replica stored and did not fold: its minute log has four text rows (no operation, no plan).
    const minute = hour + 3600 + 120;
    const pending = `INSERT INTO usage_batches (batch_id, reporter, received_at, entries, dropped, target_id, refused, rolled_up, first_minute, log_numbers, log_texts)
      VALUES ('${'c'.repeat(32)}', 'bbbbbbbbbbbbbbbb', ${minute}, 1, 0, 'default', 0, false, ${minute},
      '{{${minute}},{3},{0},{3},{0},{0},{0},{6},{0}}', '{{key_old0000000},{api_old0000000},{allowed},{con_old0000000}}')`;
    try {
      await storeAtVersion(place.url, 15, ON_POSTGRES ? [...rows, pending] : rows);
      const t = await testApp({ dbPath: place.url });
      try {
        const q = `from=${iso(hour)}&to=${iso(hour + 7200)}&granularity=hour&groupBy=consumer,plan,api,operation`;
        const before = await exportRows(t, q);
        const shape = (r: Row): unknown[] => [r.period_start, r.consumer_id, r.plan_id, r.api_id, r.operation_id, r.requests, r.units, r.rejected_quota];
        const expected = [
          [iso(hour), 'con_old0000000', 'pln_old0000000', 'api_old0000000', '', 5, 5, 2],
          [iso(hour + 3600), '', '', 'api_old0000000', '', 4, 8, 0],
          ...(ON_POSTGRES ? [[iso(hour + 3600), 'con_old0000000', 'pln_old0000000', 'api_old0000000', '', 3, 6, 0]] : []),
        ];
        assert.deepEqual(before.map(shape), expected);
        await t.app.usage.rollup();
        assert.deepEqual((await exportRows(t, q)).map(shape), expected, 'the same once the pending batch is folded');
      } finally {
        await t.close();
      }
    } finally {
      await place.dispose();
    }
  });
});

describe('plan attribution', () => {
  it('usage counts under the plan the key was on when its report was stored', async () => {
    const t = await testApp();
    try {
      const post = async (path: string, body: unknown, token = ADMIN): Promise<{ id: string }> => {
        const res = await t.app.inject({ method: 'POST', url: path, headers: { authorization: `Bearer ${token}` }, payload: body as object });
        assert.ok(res.statusCode < 300, res.body);
        return res.json();
      };
      const api = await post('/v1/apis', { name: 'orders', pathPrefix: '/orders' });
      const gold = await post('/v1/plans', { name: 'gold', limits: [{ requests: 1000, per: 'day' }], apiIds: [api.id] });
      const free = await post('/v1/plans', { name: 'free', limits: [{ requests: 1000, per: 'day' }], apiIds: [api.id] });
      const acme = await post('/v1/consumers', { name: 'acme' });
      const key = await post(`/v1/consumers/${acme.id}/keys`, { planId: gold.id });
      const minute = currentMinute();
      const report = (count: number): Promise<{ id: string }> => post('/v1/usage/reports', {
        version: 1, batchId: batchId(), reporter: '0123456789abcdef', dropped: 0,
        entries: [{ minute, keyId: key.id, apiId: api.id, outcome: 'allowed', count, operationId: 'getOrder' }],
      }, REPORT);
      await report(7);
      // The key moves to another plan (no REST route changes a key's plan today: the store is written directly, then
      // a REST write that changes the configuration makes the service forget the key facts it keeps).
      await sql(t, `UPDATE api_keys SET plan_id = '${free.id}' WHERE id = '${key.id}'`);
      const touched = await t.app.inject({ method: 'PATCH', url: `/v1/plans/${free.id}`, headers: { authorization: `Bearer ${ADMIN}` }, payload: { name: 'free (2)' } });
      assert.equal(touched.statusCode, 200, touched.body);
      await report(3);
      const hour = minute - (minute % 3600);
      const rows = await exportRows(t, `from=${iso(hour)}&to=${iso(hour + 3600)}&granularity=hour&groupBy=plan,operation`);
      assert.deepEqual(rows.map((r) => [r.plan_id, r.operation_id, r.requests]).sort(), [[free.id, 'getOrder', 3], [gold.id, 'getOrder', 7]].sort());
    } finally {
      await t.close();
    }
  });
});
