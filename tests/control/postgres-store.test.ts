// The PostgreSQL store's own guarantees, against a real server (TOLLGATE_TEST_PG_URL): migrations applied once when
// replicas start together, the same schema step per version as SQLite, a batch stored once whatever the number of
// connections delivering it, and usage_minute's daily partitions created on demand and dropped whole by retention.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import pg from 'pg';
import { MIGRATIONS } from '../../control/store/migrations/index.js';
import { POSTGRES_MIGRATIONS } from '../../control/store/migrations/postgres/index.js';
import { openStore } from '../../control/store/open-store.js';
import { isPostgresStore, openPostgresStore, type PostgresStore } from '../../control/store/postgres/index.js';
import { migrate } from '../../control/store/postgres/migrate.js';
import { createPool, transaction } from '../../control/store/postgres/connection.js';
import { DAY_S, partitionName } from '../../control/store/postgres/partitions.js';
import type { StoredBatch, UsageRow } from '../../control/store/repository.js';
import { UsageRetention } from '../../control/usage/retention.js';
import { createTestDatabase, pgUnavailable, type TestDatabase } from './postgres-fixture.js';

const unavailable = await pgUnavailable();
const skip = unavailable === undefined ? {} : { skip: unavailable };

const NOW = Math.floor(Date.now() / 1000);
const TODAY = Math.floor(NOW / DAY_S) * DAY_S;

async function rows<T extends pg.QueryResultRow>(store: PostgresStore, sql: string, args: unknown[] = []): Promise<T[]> {
  return (await store.pool.query<T>(sql, args)).rows;
}

/** The partitions usage_minute has, by the catalog (not by our own bookkeeping). */
async function partitions(store: PostgresStore): Promise<string[]> {
  return (await rows<{ name: string }>(store, `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'usage_minute'::regclass ORDER BY 1`)).map((r) => r.name);
}

async function tableExists(store: PostgresStore, name: string): Promise<boolean> {
  return (await rows(store, 'SELECT 1 FROM pg_class WHERE relname = $1', [name])).length > 0;
}

/** A key with its api, plan and consumer, created through the repositories. */
async function seedKey(store: PostgresStore): Promise<{ apiId: string; planId: string; consumerId: string; keyId: string }> {
  const api = await store.apis.create({ name: 'orders', pathPrefix: '/orders', hosts: [], methods: [] });
  const plan = await store.plans.create({ name: 'gold', limits: [{ requests: 1000, per: 'minute' }], apiIds: [api.id] });
  const consumer = await store.consumers.create('acme');
  const key = await store.keys.create({ consumerId: consumer.id, planId: plan.id, digest: 'D'.repeat(43), prefix: 'tgk_DDDD', expiresAt: null });
  return { apiId: api.id, planId: plan.id, consumerId: consumer.id, keyId: key.id };
}

type Seeded = Awaited<ReturnType<typeof seedKey>>;

function row(s: Seeded, start: number, count: number, outcome: UsageRow['outcome'] = 'allowed'): UsageRow {
  return { start, keyId: s.keyId, apiId: s.apiId, outcome, consumerId: s.consumerId, count, units: outcome === 'allowed' ? count : 0, status: { '1xx': 0, '2xx': count, '3xx': 0, '4xx': 0, '5xx': 0 } };
}

/** A batch of allowed requests at these minutes, rolled up as the usage service would. */
function batch(s: Seeded, batchId: string, minutes: number[], count = 1): StoredBatch {
  const rollup = (size: number): UsageRow[] => [...new Set(minutes.map((m) => Math.floor(m / size) * size))]
    .map((start) => row(s, start, count * minutes.filter((m) => Math.floor(m / size) * size === start).length));
  return {
    batchId, reporter: 'r1', targetId: 'default', receivedAt: NOW, entries: minutes.length, dropped: 1, refused: 0,
    rows: { minute: minutes.map((m) => row(s, m, count)), hour: rollup(3600), day: rollup(DAY_S) },
    fleet: [{ planId: s.planId, consumerId: s.consumerId, per: 'minute', windowStart: minutes[0]!, reporter: 'default:r1', count: count * minutes.length, cap: 1000 }],
  };
}

async function total(store: PostgresStore, granularity: 'minute' | 'hour' | 'day', from: number, to: number): Promise<number> {
  return (await store.usage.query({ from, to, granularity })).reduce((n, r) => n + r.count, 0);
}

describe('PostgreSQL migrations', skip, () => {
  let db: TestDatabase;
  before(async () => { db = await createTestDatabase(); });
  after(async () => db.drop());

  it('use the same versions, named alike, as SQLite\'s', () => {
    assert.deepEqual(POSTGRES_MIGRATIONS.map((m) => [m.version, m.name]), MIGRATIONS.map((m) => [m.version, m.name]));
  });

  it('are applied once when several replicas open the store at the same moment', async () => {
    const stores = await Promise.all(Array.from({ length: 6 }, () => openStore({ url: db.url })));
    try {
      const store = stores[0]!;
      assert.ok(isPostgresStore(store));
      const applied = await rows<{ version: number; name: string }>(store, 'SELECT version, name FROM schema_migrations ORDER BY version');
      assert.deepEqual(applied.map((r) => [r.version, r.name]), POSTGRES_MIGRATIONS.map((m) => [m.version, m.name]));
      // Every replica works on the one schema.
      const names = await Promise.all(stores.map((s, i) => s.consumers.create(`c${i}`).then((c) => c.name)));
      assert.equal(names.length, 6);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
    // Opening again finds nothing to do.
    const again = await openPostgresStore({ url: db.url });
    try {
      assert.equal((await rows(again, 'SELECT * FROM schema_migrations')).length, POSTGRES_MIGRATIONS.length);
    } finally {
      await again.close();
    }
  });

  it('let replicas starting together agree on one default target (none fails on the unique name)', async () => {
    const fresh = await createTestDatabase();
    const stores = await Promise.all(Array.from({ length: 6 }, () => openStore({ url: fresh.url })));
    try {
      const placement = { name: 'tollgate', namespace: 'tollgate', selector: { app: 'orders' }, targetRefs: null };
      let generated = 0;
      // The race is narrow: try it many times, from no default target each time.
      for (let round = 0; round < 10; round++) {
        const first = stores[0]!;
        assert.ok(isPostgresStore(first));
        await rows(first, 'DELETE FROM targets');
        const targets = await Promise.all(stores.map((s) => s.targets.ensureDefault(placement, undefined, () => `tgr_${'g'.repeat(40)}${generated++}`, 0)));
        assert.equal(new Set(targets.map((t) => t.reportToken)).size, 1, 'every replica keeps the first one\'s generated credential');
        assert.equal((await stores[0]!.targets.all()).length, 1);
      }
    } finally {
      await Promise.all(stores.map((s) => s.close()));
      await fresh.drop();
    }
  });

  it('build, version by version, the same tables and columns as SQLite\'s', async () => {
    const fresh = await createTestDatabase();
    const pool = createPool(fresh.url, 2);
    try {
      for (let n = 1; n <= MIGRATIONS.length; n++) {
        const sqlite = new Database(':memory:');
        for (const m of MIGRATIONS.slice(0, n)) sqlite.exec(m.sql);
        const sqliteTables = (sqlite.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[])
          .map(({ name }) => `${name}(${(sqlite.prepare(`PRAGMA table_info(${name})`).all() as { name: string }[]).map((c) => c.name).sort().join(',')})`);
        sqlite.close();
        await migrate(pool, () => NOW, POSTGRES_MIGRATIONS.slice(0, n));
        const columns = await pool.query<{ t: string; cols: string }>(
          `SELECT c.relname AS t, string_agg(a.attname, ',' ORDER BY a.attname) AS cols FROM pg_class c
           JOIN pg_namespace ns ON ns.oid = c.relnamespace AND ns.nspname = 'public'
           JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
           WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relname <> 'schema_migrations' GROUP BY c.relname ORDER BY c.relname`);
        assert.deepEqual(columns.rows.map((r) => `${r.t}(${r.cols})`), sqliteTables, `after version ${n}`);
      }
    } finally {
      await pool.end();
      await fresh.drop();
    }
  });
});

describe('PostgreSQL storeBatch', skip, () => {
  let db: TestDatabase;
  let store: PostgresStore;
  let s: Seeded;
  before(async () => {
    db = await createTestDatabase();
    store = await openPostgresStore({ url: db.url, poolSize: 50 });
    s = await seedKey(store);
  });
  after(async () => {
    await store.close();
    await db.drop();
  });

  it('stores a batch once when 50 connections deliver it at the same time', async () => {
    const minute = Math.floor(NOW / 60) * 60 - 600;
    const b = batch(s, 'same-batch-0001', [minute], 13);
    const fresh = await Promise.all(Array.from({ length: 50 }, () => store.usage.storeBatch(b)));
    assert.equal(fresh.filter((f) => f).length, 1, 'exactly one delivery stored it');
    assert.ok(store.pool.totalCount > 1, `the deliveries ran on ${store.pool.totalCount} connections`);
    assert.equal(await total(store, 'minute', minute, minute + 60), 13);
    assert.equal(await total(store, 'day', TODAY - DAY_S, TODAY + DAY_S), 13);
    assert.equal(await store.usage.droppedTotal(), 1);
    assert.deepEqual(await store.usage.fleetOthers([{ planId: s.planId, consumerId: s.consumerId, per: 'minute', windowStart: minute }], 'someone-else'), [13]);
  });

  it('adds up 50 different batches over the same rows, written concurrently in different orders', async () => {
    const base = Math.floor(NOW / 60) * 60 - 3 * 3600;
    const minutes = Array.from({ length: 20 }, (_, i) => base + i * 60);
    const batches = Array.from({ length: 50 }, (_, i) => {
      const b = batch(s, `order-batch-${i}`, minutes, 1);
      // Each batch lists the shared rows in its own order: without one lock order, these transactions deadlock.
      const shift = i % minutes.length;
      b.rows.minute = [...b.rows.minute.slice(shift), ...b.rows.minute.slice(0, shift)];
      if (i % 2 === 1) b.rows.minute.reverse();
      return b;
    });
    const fresh = await Promise.all(batches.map((b) => store.usage.storeBatch(b)));
    assert.ok(fresh.every((f) => f));
    assert.equal(await total(store, 'minute', base, base + 20 * 60), 50 * 20);
    // All 50 add to one fleet window (same reporter): none of the concurrent additions is lost.
    assert.deepEqual(await store.usage.fleetOthers([{ planId: s.planId, consumerId: s.consumerId, per: 'minute', windowStart: base }], 'x'), [50 * 20]);
  });

  it('adds thousands of fleet counts to existing windows in time linear in their number', async () => {
    const window = Math.floor(NOW / 60) * 60 - 1800;
    const big = (id: string): StoredBatch => ({
      ...batch(s, id, [], 0), rows: { minute: [], hour: [], day: [] },
      fleet: Array.from({ length: 8000 }, (_, i) => ({ planId: s.planId, consumerId: `con_${i}`, per: 'minute' as const, windowStart: window, reporter: 'default:big', count: 1, cap: 1000 })),
    });
    await store.usage.storeBatch(big('big-1'));
    const started = Date.now();
    await store.usage.storeBatch(big('big-2'));
    // Looking each row's cap up in the batch (one statement with a correlated subquery) took ~5 s here.
    assert.ok(Date.now() - started < 2000, `took ${Date.now() - started} ms`);
    assert.deepEqual(await store.usage.fleetOthers([{ planId: s.planId, consumerId: 'con_7999', per: 'minute', windowStart: window }], 'x'), [2]);
  });

  it('caps a fleet window at the plan\'s limit however the additions arrive', async () => {
    const window = Math.floor(NOW / 60) * 60 + 120;
    const add = (n: number, id: string): StoredBatch => ({
      ...batch(s, id, [], 0), rows: { minute: [], hour: [], day: [] },
      fleet: [
        { planId: s.planId, consumerId: s.consumerId, per: 'minute', windowStart: window, reporter: 'default:r9', count: n, cap: 10 },
        // A second key of the same subscription in the same batch: merged with the first, capped together.
        { planId: s.planId, consumerId: s.consumerId, per: 'minute', windowStart: window, reporter: 'default:r9', count: n, cap: 10 },
      ],
    });
    await store.usage.storeBatch(add(3, 'cap-1'));
    assert.deepEqual(await store.usage.fleetOthers([{ planId: s.planId, consumerId: s.consumerId, per: 'minute', windowStart: window }], 'x'), [6]);
    await store.usage.storeBatch(add(3, 'cap-2'));
    assert.deepEqual(await store.usage.fleetOthers([{ planId: s.planId, consumerId: s.consumerId, per: 'minute', windowStart: window }], 'x'), [10]);
  });
});

describe('usage_minute partitions', skip, () => {
  let db: TestDatabase;
  let store: PostgresStore;
  let s: Seeded;
  before(async () => {
    db = await createTestDatabase();
    store = await openPostgresStore({ url: db.url });
    s = await seedKey(store);
  });
  after(async () => {
    await store.close();
    await db.drop();
  });

  const old = TODAY - 30 * DAY_S;

  it('are created for each day a batch writes to, and the day after', async () => {
    assert.deepEqual(await partitions(store), [], 'none before the first batch');
    await store.usage.storeBatch(batch(s, 'part-1', [old + 600, TODAY + 600]));
    assert.deepEqual(await partitions(store), [old, old + DAY_S, TODAY, TODAY + DAY_S].map(partitionName).sort());
    await store.usage.rollup(); // minute rows reach usage_minute when the rollup folds the batch's log
    const where = await rows<{ p: string }>(store, 'SELECT tableoid::regclass::text AS p FROM usage_minute ORDER BY start');
    assert.deepEqual(where.map((r) => r.p), [partitionName(old), partitionName(TODAY)], 'each row lives in its day\'s partition');
  });

  it('are dropped whole by retention: the old day\'s table is gone, newer days and the rollups stay', async () => {
    // 20 days of retention at NOW: the cut-off is a day boundary 10 days after `old`.
    await new UsageRetention(store.usage, 20).maybeDrop(NOW);
    assert.equal(await tableExists(store, partitionName(old)), false, 'the old partition table no longer exists');
    assert.equal(await tableExists(store, partitionName(old + DAY_S)), false);
    assert.deepEqual(await partitions(store), [TODAY, TODAY + DAY_S].map(partitionName));
    assert.equal(await total(store, 'minute', old, old + DAY_S), 0);
    assert.equal(await total(store, 'minute', TODAY, TODAY + DAY_S), 1, 'today\'s minutes are kept');
    assert.equal(await total(store, 'day', old, old + DAY_S), 1, 'the day rollup of the dropped day is kept');
    assert.equal(await total(store, 'hour', old, old + DAY_S), 1, 'and its hour rollups');
  });

  it('come back when a batch writes to a day that another replica\'s retention dropped meanwhile', async () => {
    const other = await openPostgresStore({ url: db.url });
    try {
      const yesterday = TODAY - DAY_S;
      await store.usage.storeBatch(batch(s, 'back-1', [yesterday + 60]));
      // Another replica drops yesterday's partition; this one still believes it exists.
      await other.usage.dropUsageBefore(TODAY);
      assert.equal(await tableExists(store, partitionName(yesterday)), false);
      assert.equal(await store.usage.storeBatch(batch(s, 'back-2', [yesterday + 120])), true);
      assert.equal(await total(store, 'minute', yesterday, TODAY), 1);
      // The rollup appends the row to usage_minute: it recreates the dropped day rather than fail on every run.
      assert.equal(await store.usage.rollup(), 1);
      assert.equal(await tableExists(store, partitionName(yesterday)), true);
      assert.equal(await total(store, 'minute', yesterday, TODAY), 1, 'counted once after the fold');
    } finally {
      await other.close();
    }
  });

  it('leave a cut-off inside a day to a row delete of that day only', async () => {
    const day = TODAY + DAY_S;
    await store.usage.storeBatch(batch(s, 'mid-1', [day + 60, day + 7200]));
    await store.usage.dropUsageBefore(day + 3600);
    assert.equal(await tableExists(store, partitionName(day)), true, 'the straddling day keeps its partition');
    assert.equal(await total(store, 'minute', day, day + DAY_S), 1, 'its rows before the cut-off are deleted');
  });
});

describe('usage queries over 30 days of many keys', skip, () => {
  let db: TestDatabase;
  let store: PostgresStore;
  before(async () => {
    db = await createTestDatabase();
    // One connection: the statistics read below are the ones this session's queries produced.
    store = await openPostgresStore({ url: db.url, poolSize: 1 });
    await store.pool.query(`INSERT INTO usage_day (start, key_id, api_id, outcome, consumer_id, count)
      SELECT $1::bigint - d * 86400, 'key_' || lpad(k::text, 6, '0'), 'api_' || (k % 20), 'allowed', 'con_' || lpad((k / 2)::text, 6, '0'), 5
      FROM generate_series(0, 29) d, generate_series(1, 2000) k`, [TODAY]);
    await store.pool.query('ANALYZE usage_day');
  });
  after(async () => {
    await store.close();
    await db.drop();
  });

  /** Index scans of `index` that the repository's query caused. */
  async function indexScans(index: string, query: () => Promise<unknown>): Promise<number> {
    const scans = async (): Promise<number> => {
      await store.pool.query('SELECT pg_stat_force_next_flush()');
      await store.pool.query('SELECT pg_stat_clear_snapshot()');
      return (await rows<{ n: number }>(store, 'SELECT idx_scan AS n FROM pg_stat_user_indexes WHERE indexrelname = $1', [index]))[0]!.n;
    };
    const before = await scans();
    await query();
    return (await scans()) - before;
  }

  it('read the index of the key, the consumer or the API, not the whole range', async () => {
    const range = { from: TODAY - 29 * DAY_S, to: TODAY + DAY_S, granularity: 'day' as const };
    let result: Awaited<ReturnType<PostgresStore['usage']['query']>> = [];
    assert.ok(await indexScans('usage_day_key', async () => { result = await store.usage.query({ ...range, keyId: 'key_000123' }); }) > 0);
    assert.equal(result.length, 30);
    assert.ok(await indexScans('usage_day_consumer', async () => { result = await store.usage.query({ ...range, consumerId: 'con_000061' }); }) > 0);
    assert.equal(result.reduce((n, r) => n + r.count, 0), 30 * 2 * 5);
    assert.ok(await indexScans('usage_day_api', () => store.usage.query({ ...range, apiId: 'api_7' })) > 0);
  });
});

describe('the PostgreSQL store object', skip, () => {
  it('exposes its pool and dedicated connections for the replica layer', async () => {
    const db = await createTestDatabase();
    // A database whose default would acknowledge commits before they are on disk: the store's sessions override it.
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    await admin.query(`ALTER DATABASE ${db.name} SET synchronous_commit = off`);
    await admin.end();
    const store = await openPostgresStore({ url: db.url });
    try {
      const setting = "SELECT current_setting('synchronous_commit') AS s";
      assert.equal((await store.pool.query<{ s: string }>(setting)).rows[0]!.s, 'on', 'pooled sessions commit durably');
      const client = await store.connect();
      try {
        assert.equal((await client.query<{ s: string }>(setting)).rows[0]!.s, 'on', 'dedicated sessions too');
      } finally {
        await client.end();
      }
      assert.equal(await store.ping(), true);
    } finally {
      await store.close();
      await db.drop();
    }
    assert.equal(await store.ping(), false, 'a closed store does not answer');
  });
});

describe('PostgreSQL transactions when the server goes away', skip, () => {
  it('a connection terminated between two queries fails the transaction cleanly (no unhandled error event), and the pool goes on', async () => {
    const db = await createTestDatabase();
    const store = await openPostgresStore({ url: db.url });
    try {
      await assert.rejects(transaction(store.pool, async (c) => {
        const pid = (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
        await store.pool.query('SELECT pg_terminate_backend($1)', [pid]);
        // The client's 'error' event arrives while no query of it is active: unhandled, it would crash the process.
        await new Promise((r) => setTimeout(r, 300));
        await c.query('SELECT 1');
      }));
      assert.equal((await store.pool.query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one, 1);
    } finally {
      await store.close();
      await db.drop();
    }
  });
});
