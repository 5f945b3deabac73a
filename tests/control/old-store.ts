// A store as an earlier release left it: migrations 1..version applied on the run's backend (SQLite or PostgreSQL,
// tests/control/helpers.ts ON_POSTGRES), then rows written in that schema — for the tests of each later migration.
import Database from 'better-sqlite3';
import pg from 'pg';
import { MIGRATIONS } from '../../control/store/migrations/index.js';
import { POSTGRES_MIGRATIONS } from '../../control/store/migrations/postgres/index.js';
import { ON_POSTGRES } from './helpers.js';

/** Creates the store at `url` at schema `version` and runs `statements` (SQL valid on both backends) in it. */
export async function storeAtVersion(url: string, version: number, statements: readonly string[]): Promise<void> {
  if (ON_POSTGRES) {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      await c.query('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)');
      for (const m of POSTGRES_MIGRATIONS.filter((x) => x.version <= version)) {
        await c.query(m.sql);
        await c.query('INSERT INTO schema_migrations VALUES ($1, $2, 0)', [m.version, m.name]);
      }
      for (const s of statements) await c.query(s);
    } finally {
      await c.end();
    }
    return;
  }
  const db = new Database(url);
  try {
    db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
    for (const m of MIGRATIONS.filter((x) => x.version <= version)) {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations VALUES (?, ?, 0)').run(m.version, m.name);
    }
    for (const s of statements) db.exec(s);
  } finally {
    db.close();
  }
}
