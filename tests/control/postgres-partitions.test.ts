// usage_minute's daily partitions under a race the batch ingest hit (42P07 "relation … already exists" → a 500 to a
// proxy): a connection whose catalog cache still says "no such partition" waits on the creation lock while another
// replica creates it; once it has the lock it must see the partition and not create it again.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { openPostgresStore, type PostgresStore } from '../../control/store/postgres/index.js';
import { createPool } from '../../control/store/postgres/connection.js';
import { DAY_S, MinutePartitions, PARTITION_LOCK_KEY, partitionName } from '../../control/store/postgres/partitions.js';
import { createTestDatabase, pgUnavailable, type TestDatabase } from './postgres-fixture.js';

const unavailable = await pgUnavailable();

describe('PostgreSQL minute partitions: created once under a race', { skip: unavailable ?? false }, () => {
  let db: TestDatabase;
  let store: PostgresStore;
  before(async () => {
    db = await createTestDatabase();
    store = await openPostgresStore({ url: db.url });
  });
  after(async () => {
    await store.close();
    await db.drop();
  });

  it('a creator that waited on the lock with a stale "absent" in its catalog cache skips the partition another made', async () => {
    const day = Date.UTC(2031, 0, 1) / 1000;
    // One connection, so the lookup that caches "absent" and the waiting creator are the same backend.
    const pool = createPool(db.url, 1);
    const other = new pg.Client({ connectionString: db.url });
    await other.connect();
    try {
      assert.equal((await pool.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [partitionName(day)])).rows[0]!.t, null);
      // Another replica holds the creation lock and has created the day's partition, not yet committed.
      await other.query('BEGIN');
      await other.query('SELECT pg_advisory_xact_lock($1)', [PARTITION_LOCK_KEY.toString()]);
      await other.query(`CREATE TABLE ${partitionName(day)} (LIKE usage_minute INCLUDING DEFAULTS)`);
      await other.query(`ALTER TABLE usage_minute ATTACH PARTITION ${partitionName(day)} FOR VALUES FROM (${day}) TO (${day + DAY_S})`);
      const ensured = new MinutePartitions(pool).ensure([day]);
      // Commit only once our creator is queued on the lock (after its BEGIN, so it has not seen the commit).
      for (let i = 0; ; i++) {
        const waiting = await other.query("SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted");
        if (waiting.rowCount !== 0) break;
        assert.ok(i < 200, 'the creator never waited on the lock');
        await new Promise((r) => setTimeout(r, 10));
      }
      await other.query('COMMIT');
      await ensured;
      const names = (await new MinutePartitions(pool).list()).map((p) => p.name);
      assert.ok(names.includes(partitionName(day)) && names.includes(partitionName(day + DAY_S)), names.join(','));
    } finally {
      await other.end();
      await pool.end();
    }
  });
});
