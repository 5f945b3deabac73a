// The PostgreSQL implementation of Store, for several service replicas sharing one database. The pool and a way to
// open dedicated connections stay reachable (`pool`, `connect()`) for what replicas coordinate through the database:
// the distributor's leader lock and the LISTEN/NOTIFY change feed (control/replicas/).
import type pg from 'pg';
import type { ChangeFeed } from '../changes.js';
import { redactDbUrl, scrubDbSecrets } from '../db-url.js';
import type { Store } from '../repository.js';
import type { CatalogSnapshot } from '../types.js';
import { PostgresApis } from './apis.js';
import { connectClient, createPool } from './connection.js';
import { PostgresConsumers } from './consumers.js';
import { PostgresCredits } from './credits.js';
import { PostgresDiscovery } from './discovery.js';
import { PostgresFleetStatus } from '../../fleet/postgres-store.js';
import { PostgresKeys } from './keys.js';
import { PostgresKeyFeed } from './keyfeed.js';
import { migrate } from './migrate.js';
import { MinutePartitions } from './partitions.js';
import { PostgresPlans } from './plans.js';
import { PostgresSecrets } from './secrets.js';
import { readSnapshot } from './snapshot.js';
import { PostgresTargets } from './targets.js';
import { PostgresUsage } from './usage.js';

export interface PostgresStoreOptions {
  /** postgres://user:password@host:port/database?… (node-postgres' connection string). */
  url: string;
  /** Told after every change that can alter a compiled filter configuration. */
  changes?: ChangeFeed;
  now?: () => number;
  /** Pooled connections at most (default 10). */
  poolSize?: number;
}

export interface PostgresStore extends Store {
  readonly backend: 'postgres';
  readonly pool: pg.Pool;
  /** A new connection of its own (not pooled), for LISTEN or a session lock; the caller ends it. */
  connect(): Promise<pg.Client>;
  /** The URL with its password masked, for logs. */
  readonly description: string;
}

export function isPostgresStore(store: Store): store is PostgresStore {
  return (store as Partial<PostgresStore>).backend === 'postgres';
}

/** An error whose message is the original one with the URL's passwords masked and the (redacted) URL named. */
function openError(url: string, err: unknown): Error {
  const message = scrubDbSecrets(err instanceof Error ? err.message : String(err), url);
  return Object.assign(new Error(`cannot open the PostgreSQL store ${redactDbUrl(url)}: ${message}`), { code: (err as { code?: unknown } | null)?.code });
}

/** Connects, applies pending migrations (safe with several replicas starting at once), and returns the store. */
export async function openPostgresStore(options: PostgresStoreOptions): Promise<PostgresStore> {
  const now = options.now ?? ((): number => Math.floor(Date.now() / 1000));
  const changed = (): void => options.changes?.publish();
  const pool = createPool(options.url, options.poolSize ?? 10);
  try {
    await migrate(pool, now);
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw openError(options.url, err);
  }
  const keyFeed = new PostgresKeyFeed(pool, changed);
  try {
    await keyFeed.prepare();
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw openError(options.url, err);
  }
  const partitions = new MinutePartitions(pool);
  let open = true;
  return {
    backend: 'postgres',
    pool,
    description: redactDbUrl(options.url),
    connect: () => connectClient(options.url).catch((err: unknown) => { throw openError(options.url, err); }),
    apis: new PostgresApis(pool, now, changed),
    plans: new PostgresPlans(pool, now, changed),
    consumers: new PostgresConsumers(pool, now, changed),
    keys: new PostgresKeys(pool, now, changed),
    usage: new PostgresUsage(pool, partitions),
    targets: new PostgresTargets(pool, now, changed),
    secrets: new PostgresSecrets(pool),
    keyFeed,
    credits: new PostgresCredits(pool, now, changed),
    discovery: new PostgresDiscovery(pool),
    fleet: new PostgresFleetStatus(pool),
    snapshot: (): Promise<CatalogSnapshot> => readSnapshot(pool),
    ping: async (): Promise<boolean> => {
      if (!open) return false;
      try {
        await pool.query('SELECT 1');
        return true;
      } catch {
        return false;
      }
    },
    close: async (): Promise<void> => {
      if (!open) return;
      open = false;
      await pool.end();
    },
  };
}
