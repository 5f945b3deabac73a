// Applies PostgreSQL's pending migrations. Several replicas may start at once: each migration runs in a transaction
// that first takes a transaction-scoped advisory lock, so one replica applies it while the others wait, then find it
// recorded in schema_migrations and skip it. PostgreSQL's DDL is transactional: a failed migration leaves nothing.
import type pg from 'pg';
import type { Migration } from '../migrations/index.js';
import { POSTGRES_MIGRATIONS } from '../migrations/postgres/index.js';
import { transaction } from './connection.js';

/** The migration lock's key ("tollgate-migrate" folded into 63 bits), distinct from every other lock of ours. */
export const MIGRATION_LOCK_KEY = 0x746f6c6c6d696772n;

export async function migrate(pool: pg.Pool, now: () => number, migrations: readonly Migration[] = POSTGRES_MIGRATIONS): Promise<number[]> {
  const applied: number[] = [];
  for (const m of migrations) {
    const ran = await transaction(pool, async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY.toString()]);
      await c.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)');
      const done = await c.query('SELECT 1 FROM schema_migrations WHERE version = $1', [m.version]);
      if (done.rowCount !== 0) return false;
      await c.query(m.sql);
      await c.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, now()]);
      return true;
    });
    if (ran) applied.push(m.version);
  }
  return applied;
}
