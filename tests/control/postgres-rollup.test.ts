// PostgreSQL ingestion appends minute rows (concurrent batches never wait on one another's rows) and one replica at a
// time folds whole batches into hours and days; queries never lag the fold: hour/day answers include the minute rows
// of batches not rolled up yet.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { openPostgresStore, type PostgresStore } from '../../control/store/postgres/index.js';
import { PostgresUsage } from '../../control/store/postgres/usage.js';
import { POSTGRES_MIGRATIONS } from '../../control/store/migrations/postgres/index.js';
import { createPool } from '../../control/store/postgres/connection.js';
import { migrate } from '../../control/store/postgres/migrate.js';
import { MinutePartitions } from '../../control/store/postgres/partitions.js';
import type { StoredBatch } from '../../control/store/repository.js';
import { createTestDatabase, pgUnavailable, type TestDatabase } from './postgres-fixture.js';

const unavailable = await pgUnavailable();
const HOUR = Math.floor(Date.now() / 3_600_000) * 3600 - 3600;
const zero = { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 };

function batch(id: string, minutes: number[], count: number): StoredBatch {
  return {
    batchId: id.padStart(32, '0'), reporter: 'r', targetId: 'default', receivedAt: HOUR, entries: minutes.length, dropped: 0, refused: 0,
    rows: { minute: minutes.map((m) => ({ start: m, keyId: 'key_a', apiId: 'api_a', outcome: 'allowed' as const, consumerId: 'con_a', count, units: count, status: { ...zero, '2xx': count } })), hour: [], day: [] },
    fleet: [],
  };
}

/** Two store instances (two replicas) on one fresh database, opened before a describe block's tests, closed after. */
function twoReplicas(): PostgresStore[] {
  const stores: PostgresStore[] = [];
  let db: TestDatabase | undefined;
  before(async () => {
    db = await createTestDatabase();
    stores.push(await openPostgresStore({ url: db.url }), await openPostgresStore({ url: db.url }));
  });
  after(async () => {
    for (const s of stores) await s.close();
    await db?.drop();
  });
  return stores;
}

describe('PostgreSQL rollups', { skip: unavailable ?? false }, () => {
  const stores = twoReplicas();

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
    assert.equal(await table(a, 'SELECT COUNT(*) AS n FROM usage_minute'), 0, 'minute rows wait in the batches\' logs');
    assert.equal(await hourTotal(a), 10, 'yet the hour is complete');
    const minute = await a.usage.query({ keyId: 'key_a', from: HOUR, to: HOUR + 3600, granularity: 'minute' });
    assert.deepEqual(minute.map((r) => [r.start - HOUR, r.count, r.status['2xx']]), [[60, 7, 7], [120, 3, 3]]);

    // Both replicas try at once: one folds, the other skips (or finds nothing left).
    const folded = await Promise.all([a.usage.rollup(), b.usage.rollup()]);
    assert.equal(folded[0] + folded[1], 3);
    assert.equal(await table(a, 'SELECT COUNT(*) AS n FROM usage_batches WHERE NOT rolled_up'), 0);
    assert.equal(await table(a, 'SELECT COUNT(*) AS n FROM usage_minute'), 2, 'the fold sums the two proxies\' rows of the same minute');
    assert.equal(await table(a, 'SELECT COUNT(*) AS n FROM usage_batches WHERE log_numbers IS NOT NULL OR log_texts IS NOT NULL'), 0, 'folded logs are cleared');
    assert.equal(await table(a, 'SELECT SUM(count) AS n FROM usage_hour'), 10);
    assert.equal(await table(a, 'SELECT SUM(count) AS n FROM usage_day'), 10);
    assert.equal(await hourTotal(b), 10, 'not counted twice once rolled up');
    assert.equal(await a.usage.rollup(), 0, 'nothing left to fold');

    await a.usage.storeBatch(batch('3', [HOUR + 180], 5));
    assert.equal(await hourTotal(a), 15, 'rolled-up hours plus the new pending minute');
  });
});

describe('PostgreSQL fleet additions in the batch log', { skip: unavailable ?? false }, () => {
  const stores = twoReplicas();

  const W = HOUR + 3600;
  const withFleet = (id: string, reporter: string, count: number, cap = 10): StoredBatch => ({
    ...batch(id, [HOUR + 60], 1),
    fleet: [{ planId: 'plan_a', consumerId: 'con_a', per: 'hour', windowStart: W, reporter, count, cap }],
  });
  const view = async (s: PostgresStore): Promise<unknown> => ({
    counts: (await s.usage.fleetCounts!([{ per: 'hour', windowStart: W }])).map((c) => [c.reporter, c.count]).sort(),
    othersOfA: await s.usage.fleetOthers([{ planId: 'plan_a', consumerId: 'con_a', per: 'hour', windowStart: W }], 'a'),
    currentForB: await s.usage.fleetCurrent('hour', W, 'b', 10),
  });

  it('are read before the fold, capped per reporter, counted once, and read the same after it', async () => {
    const [x, y] = stores as [PostgresStore, PostgresStore];
    await x.usage.storeBatch(withFleet('f1', 'a', 6));
    await y.usage.storeBatch(withFleet('f2', 'a', 7)); // a's window: 13 capped at 10
    await y.usage.storeBatch(withFleet('f2', 'a', 7)); // a duplicate adds nothing
    await x.usage.storeBatch(withFleet('f3', 'b', 4));
    const expected = { counts: [['a', 10], ['b', 4]], othersOfA: [4], currentForB: [{ planId: 'plan_a', consumerId: 'con_a', scope: '', others: 10 }] };
    assert.equal(Number((await x.pool.query<{ n: string }>('SELECT COUNT(*) AS n FROM fleet_windows')).rows[0]!.n), 0, 'nothing folded yet');
    assert.deepEqual(await view(y), expected, 'pending additions are read, capped');
    assert.equal(await x.usage.rollup(), 3, 'three batches of one minute row each');
    assert.deepEqual(await view(y), expected, 'the same once folded (the fold caps as one-by-one additions would)');
    // More after the fold: stored 10 (capped) + 5 stays at the cap; b's 4 + 3 = 7.
    await x.usage.storeBatch(withFleet('f4', 'a', 5));
    await x.usage.storeBatch(withFleet('f5', 'b', 3));
    const more = { counts: [['a', 10], ['b', 7]], othersOfA: [7], currentForB: [{ planId: 'plan_a', consumerId: 'con_a', scope: '', others: 10 }] };
    assert.deepEqual(await view(x), more, 'folded plus pending');
    await y.usage.rollup();
    assert.deepEqual(await view(x), more);
  });

  it('fold a backlog in bounded steps, oldest first, until none is left', async () => {
    const [x] = stores as [PostgresStore];
    for (let i = 0; i < 5; i++) await x.usage.storeBatch(batch(`s${i}`, [HOUR + 240], 1));
    const steps: number[] = [];
    const small = new PostgresUsage(x.pool, new MinutePartitions(x.pool), 2);
    const pendingNow = async (): Promise<number> => Number((await x.pool.query<{ n: string }>('SELECT COUNT(*) AS n FROM usage_batches WHERE NOT rolled_up')).rows[0]!.n);
    steps.push(await pendingNow());
    assert.equal(await small.rollup(), 5, 'all five rows, in three folds of at most two batches');
    steps.push(await pendingNow());
    assert.deepEqual(steps, [5, 0]);
    const minute = await x.usage.query({ keyId: 'key_a', from: HOUR + 240, to: HOUR + 300, granularity: 'minute' });
    assert.deepEqual(minute.map((r) => r.count), [5], 'each counted once');
    // Each fold sums its own batches' rows of a minute: three folds leave three rows, oldest batches first.
    const rows = await x.pool.query<{ count: number }>('SELECT count FROM usage_minute WHERE start = $1 ORDER BY ctid', [HOUR + 240]);
    assert.deepEqual(rows.rows.map((r) => r.count), [2, 2, 1]);
  });

  it('fold, with the minute rows, only batches committed before the fold began; the rest wait for the next run', async () => {
    const [x, y] = stores as [PostgresStore, PostgresStore];
    // A batch held open in a transaction while another replica folds: invisible to the fold, folded next time.
    const c = await y.pool.connect();
    try {
      await c.query('BEGIN');
      await c.query(`INSERT INTO usage_batches (batch_id, reporter, received_at, entries, dropped, target_id, refused, first_minute, log_numbers, log_texts)
        VALUES ('open', 'r', $1, 1, 0, 'default', 0, $2, $3, $4)`, [HOUR, HOUR + 60, `{{${HOUR + 60}},{2},{0},{2},{0},{0},{0}}`, '{{key_a},{api_a},{allowed},{con_a}}']);
      await x.usage.storeBatch(batch('g1', [HOUR + 60], 5));
      assert.equal(await x.usage.rollup(), 1, 'only the committed batch');
      await c.query('COMMIT');
    } finally {
      c.release();
    }
    const minuteTotal = async (): Promise<number> =>
      (await x.usage.query({ keyId: 'key_a', from: HOUR, to: HOUR + 3600, granularity: 'minute' })).reduce((n, r) => n + r.count, 0);
    const before = await minuteTotal();
    assert.equal(await x.usage.rollup(), 1, 'the late one next time');
    assert.equal(await minuteTotal(), before, 'neither lost nor counted twice by the fold');
    assert.equal(await x.usage.rollup(), 0);
  });
});

describe('PostgreSQL migration 7 (batch log)', { skip: unavailable ?? false }, () => {
  it('folds the hours and days of batches pending under version 5 (their minute rows are stored already), once', async () => {
    const db = await createTestDatabase();
    const pool = createPool(db.url, 2);
    try {
      await migrate(pool, () => HOUR, POSTGRES_MIGRATIONS.filter((m) => m.version < 7));
      await new MinutePartitions(pool).ensure([HOUR]);
      // One batch rolled up under version 5 (its hour stored), one still pending (minute row only).
      await pool.query(`INSERT INTO usage_batches (batch_id, reporter, received_at, entries, dropped, target_id, refused, first_minute, rolled_up)
        VALUES ('done', 'r', $1, 1, 0, 'default', 0, $1, true), ('pending', 'r', $1, 1, 0, 'default', 0, $1, false)`, [HOUR]);
      const seqs = (await pool.query<{ batch_id: string; seq: number }>('SELECT batch_id, seq FROM usage_batches')).rows;
      const seqOf = (id: string): number => seqs.find((r) => r.batch_id === id)!.seq;
      await pool.query(`INSERT INTO usage_minute (start, key_id, api_id, outcome, consumer_id, count, batch_seq) VALUES
        ($1, 'key_a', 'api_a', 'allowed', 'con_a', 2, $2), ($1, 'key_a', 'api_a', 'allowed', 'con_a', 5, $3)`, [HOUR + 60, seqOf('done'), seqOf('pending')]);
      await pool.query(`INSERT INTO usage_hour (start, key_id, api_id, outcome, consumer_id, count) VALUES ($1, 'key_a', 'api_a', 'allowed', 'con_a', 2)`, [HOUR]);
      await migrate(pool, () => HOUR, POSTGRES_MIGRATIONS);
      const n = async (sql: string): Promise<number> => Number((await pool.query<{ n: string }>(sql)).rows[0]!.n);
      assert.equal(await n('SELECT SUM(count) AS n FROM usage_hour'), 7, 'the pending batch\'s hour added, the folded one not again');
      assert.equal(await n('SELECT SUM(count) AS n FROM usage_day'), 5, 'and its day');
      assert.equal(await n('SELECT COUNT(*) AS n FROM usage_batches WHERE NOT rolled_up'), 0);
      assert.equal(await n('SELECT SUM(count) AS n FROM usage_minute'), 7, 'minute rows untouched');
    } finally {
      await pool.end();
      await db.drop();
    }
  });
});
