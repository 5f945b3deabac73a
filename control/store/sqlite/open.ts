// Opens the SQLite file with the pragmas the service relies on and applies pending migrations.
import Database from 'better-sqlite3';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { MIGRATIONS } from '../migrations/index.js';

export type Db = Database.Database;

/**
 * The database holds the report token in plaintext (and key digests), so it is owner-only: its directory is created
 * 0700 and the file 0600 before SQLite opens it, because SQLite creates `-wal` and `-shm` with the database file's
 * own permissions. Files left readable by an older version are tightened too.
 */
function prepareOwnerOnlyFiles(path: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  closeSync(openSync(path, 'a', 0o600));
  for (const file of [path, `${path}-wal`, `${path}-shm`, `${path}-journal`]) {
    if (existsSync(file) && (statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
  }
}

export function openDatabase(path: string): Db {
  // ':memory:' and '' (a private temporary database) have no file of their own.
  if (path !== ':memory:' && path !== '') prepareOwnerOnlyFiles(path);
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  // NORMAL + an explicit fdatasync of the WAL before every 2xx (wal-sync.ts) = FULL's durability (a power cut loses
  // nothing acknowledged) without blocking the event loop on fsync, and with concurrent commits sharing one fsync.
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db);
  return db;
}

function migrate(db: Db): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
  const applied = new Set((db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((r) => r.version));
  for (const m of MIGRATIONS) {
    if (applied.has(m.version)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, Math.floor(Date.now() / 1000));
    }).immediate();
  }
}

export function isConstraint(err: unknown, code: 'SQLITE_CONSTRAINT_UNIQUE' | 'SQLITE_CONSTRAINT_PRIMARYKEY' | 'SQLITE_CONSTRAINT_FOREIGNKEY'): boolean {
  return err instanceof Database.SqliteError && err.code === code;
}
