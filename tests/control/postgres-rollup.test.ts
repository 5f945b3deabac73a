// PostgreSQL ingestion appends minute rows (concurrent batches never wait on one another's rows) and one replica at a
// time folds whole batches into hours and days; queries never lag the fold: hour/day answers include the minute rows
// of batches not rolled up yet.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { openPostgresStore, type PostgresStore } from '../../control/store/postgres/index.js';
import type { StoredBatch } from '../../control/store/repository.js';
import { createTestDatabase, pgUnavailable, type TestDatabase } from './postgres-fixture.js';

const unavailable = await pgUnavailable();
const HOUR = Math.floor(Date.now() / 3_600_000) * 3600 - 3600;
const zero = { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 };

function batch(id: string, minutes: number[], count: number): StoredBatch {
  return {
    batchId: id.padStart(32, '0'), reporter: 'r', targetId: 'default', receivedAt: HOUR, entries: minutes.length, dropped: 0, refused: 0,
    rows: { minute: minutes.map((m) => ({ start: m, keyId: 'key_a', apiId: 'api_a', outcome: 'allowed' as const, consumerId: 'con_a', count, status: { ...zero, '2xx': count } })), hour: [], day: [] },
    fleet: [],
  };
}

describe('PostgreSQL rollups', { skip: unavailable ?? false }, () => {
  let db: TestDatabase;
  let stores: PostgresStore[];
  before(async () => {
    db = await createTestDatabase();
    stores = [await openPostgresStore({ url: db.url }), await openPostgresStore({ url: db.url })];
  });
  after(async () => {
    for (const s of stores) await s.close();
    await db.drop();
  });

  const hourTotal = async (s: PostgresStore): Promise<number> =>
    (await s.usage.query({ keyId: 'key_a', from: HOUR, to: HOUR + 3600, granularity: 'hour' })).reduce((n, r) => n + r.count, 0);
  const table = async (s: PostgresStore, sql: string): Promise<number> => Number((await s.pool.query<{ n: string }>(sql)).rows[0]!.n);

  it('answers hours from appended minutes before any rollup, and the same after it', async () => {
    const [a, b] = stores as [PostgresStore, PostgresStore];
    // Two proxies report the same minute: two appended rows, summed when read.
    assert.equal(await a.usage.storeBatch(batch('1', [HOUR + 60, HOUR + 120], 3)), true);
    assert.equal(await b.usage.storeBatch(batch('2', [HOUR + 60], 4)), true);
    assert.equal(await a.usage.storeBatch(batch('2', [HOUR + 60], 4)), false, 'a duplicate still appends nothing');
    assert.equal(await table(a, 'SELECT COUNT(*) AS n FROM usage_hour'), 0, 'nothing rolled up yet');
    assert.equal(await hourTotal(a), 10, 'yet the hour is complete');
    const minute = await a.usage.query({ keyId: 'key_a', from: HOUR, to: HOUR + 3600, granularity: 'minute' });
    assert.deepEqual(minute.map((r) => [r.start - HOUR, r.count, r.status['2xx']]), [[60, 7, 7], [120, 3, 3]]);

    // Both replicas try at once: one folds, the other skips (or finds nothing left).
    const folded = await Promise.all([a.usage.rollup(), b.usage.rollup()]);
    assert.equal(folded[0] + folded[1], 3);
    assert.equal(await table(a, 'SELECT COUNT(*) AS n FROM usage_batches WHERE NOT rolled_up'), 0);
    assert.equal(await table(a, 'SELECT COUNT(*) AS n FROM usage_minute'), 3, 'minute rows are never rewritten or removed by a rollup');
    assert.equal(await table(a, 'SELECT SUM(count) AS n FROM usage_hour'), 10);
    assert.equal(await table(a, 'SELECT SUM(count) AS n FROM usage_day'), 10);
    assert.equal(await hourTotal(b), 10, 'not counted twice once rolled up');
    assert.equal(await a.usage.rollup(), 0, 'nothing left to fold');

    await a.usage.storeBatch(batch('3', [HOUR + 180], 5));
    assert.equal(await hourTotal(a), 15, 'rolled-up hours plus the new pending minute');
  });
});
