// The one place the storage backend is chosen: a postgres:// or postgresql:// URL opens PostgreSQL (several replicas
// may share it), anything else is a SQLite file (the default, one process).
import type { ChangeFeed } from './changes.js';
import { isPostgresUrl } from './db-url.js';
import { openPostgresStore } from './postgres/index.js';
import type { Store } from './repository.js';
import { openSqliteStore } from './sqlite/index.js';

export interface OpenStoreOptions {
  /** TOLLGATE_DB: a PostgreSQL URL or a SQLite file path. */
  url: string;
  changes?: ChangeFeed;
  now?: () => number;
}

export async function openStore(options: OpenStoreOptions): Promise<Store> {
  const rest = { ...(options.changes !== undefined ? { changes: options.changes } : {}), ...(options.now !== undefined ? { now: options.now } : {}) };
  if (isPostgresUrl(options.url)) return openPostgresStore({ url: options.url, ...rest });
  return openSqliteStore({ path: options.url, ...rest });
}
