// Moving a SQLite store into PostgreSQL: every table, row for row, into a freshly migrated database, in one
// PostgreSQL transaction (all or nothing). Both backends' schemas are versioned alike, so columns map one to one; the
// source must be at the same schema version as the code (open it once with this version first). Refuses a target
// that already holds data, so it never merges two stores. The key feed's own tables are not copied: the target
// starts a new revision history (docs/key-feed.md, "Epoch").
import Database from 'better-sqlite3';
import { MIGRATIONS } from './migrations/index.js';
import { openPostgresStore } from './postgres/index.js';
import { MinutePartitions } from './postgres/partitions.js';
import { redactDbUrl } from './db-url.js';

/** In foreign-key order. */
export const TABLES = [
  'apis', 'api_operations', 'plans', 'plan_apis', 'consumers', 'api_keys', 'targets', 'secrets',
  'usage_batches', 'usage_minute', 'usage_hour', 'usage_day', 'fleet_windows', 'usage_billing_hour', 'discovered_apis',
  // Credit balances keep their grants (the copy's feed starts a new epoch; rebuild folds them into the digests).
  'credit_balances', 'credit_spend',
] as const;

export interface MigrateResult { rows: Record<string, number> }

export class MigrateStoreError extends Error {}

const CHUNK = 500;

export async function migrateStore(sqlitePath: string, postgresUrl: string): Promise<MigrateResult> {
  const src = new Database(sqlitePath, { readonly: true, fileMustExist: true });
  try {
    const version = (src.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null }).v ?? 0;
    const latest = Math.max(...MIGRATIONS.map((m) => m.version));
    if (version !== latest) throw new MigrateStoreError(`${sqlitePath} is at schema version ${version}, this tollgate expects ${latest}: start the service on it once first`);
    const store = await openPostgresStore({ url: postgresUrl });
    try {
      const client = await store.pool.connect();
      try {
        await client.query('BEGIN');
        for (const table of TABLES) {
          const { rows } = await client.query<{ n: string }>(`SELECT COUNT(*) AS n FROM ${table}`);
          if (Number(rows[0]!.n) > 0) throw new MigrateStoreError(`${redactDbUrl(postgresUrl)}: table ${table} is not empty; migrate into a new database`);
        }
        // usage_minute is partitioned by day: create the partitions its rows need first.
        const days = (src.prepare('SELECT DISTINCT start FROM usage_minute').all() as { start: number }[]).map((r) => r.start);
        await new MinutePartitions(store.pool).ensure(days);
        const counts: Record<string, number> = {};
        for (const table of TABLES) {
          const rows = src.prepare(`SELECT * FROM ${table}`).all() as Record<string, unknown>[];
          counts[table] = rows.length;
          for (let i = 0; i < rows.length; i += CHUNK) {
            const chunk = rows.slice(i, i + CHUNK);
            const columns = Object.keys(chunk[0]!);
            const values: unknown[] = [];
            const tuples = chunk.map((row) => `(${columns.map((c) => { values.push(row[c]); return `$${values.length}`; }).join(', ')})`);
            await client.query(`INSERT INTO ${table} (${columns.join(', ')}) VALUES ${tuples.join(', ')}`, values);
          }
        }
        await client.query('COMMIT');
        // The key feed starts a new revision history (a new epoch: proxies take a fresh snapshot rather than apply
        // revisions of the source's history) with its digests computed from the keys just copied.
        await store.keyFeed.rebuild(true);
        return { rows: counts };
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        client.release();
      }
    } finally {
      await store.close();
    }
  } finally {
    src.close();
  }
}
