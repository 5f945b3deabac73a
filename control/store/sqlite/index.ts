// The SQLite implementation of Store.
import type { SecretRepository, Store } from '../repository.js';
import type { CatalogSnapshot } from '../types.js';
import type { ChangeFeed } from '../changes.js';
import { SqliteApis } from './apis.js';
import { SqliteConsumers } from './consumers.js';
import { SqliteCredits } from './credits.js';
import { SqliteDiscovery } from './discovery.js';
import { SqliteFleetStatus } from '../../fleet/sqlite-store.js';
import { SqliteKeys } from './keys.js';
import { SqliteKeyFeed } from './keyfeed.js';
import { SqlitePlans } from './plans.js';
import { SqliteTargets } from './targets.js';
import { readSnapshot } from './snapshot.js';
import { openDatabase, type Db } from './open.js';
import { SqliteUsage } from './usage.js';
import { WalSync } from './wal-sync.js';

class SqliteSecrets implements SecretRepository {
  constructor(private readonly db: Db, private readonly durable: () => Promise<void>) {}

  async get(name: string): Promise<string | undefined> {
    return (this.db.prepare('SELECT value FROM secrets WHERE name = ?').get(name) as { value: string } | undefined)?.value;
  }

  async set(name: string, value: string): Promise<void> {
    this.db.prepare('INSERT INTO secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value').run(name, value);
    await this.durable();
  }
}

export interface SqliteStoreOptions {
  path: string;
  /** Told after every change that can alter a compiled filter configuration. */
  changes?: ChangeFeed;
  now?: () => number;
}

export function openSqliteStore(options: SqliteStoreOptions): Store {
  const db = openDatabase(options.path);
  const now = options.now ?? ((): number => Math.floor(Date.now() / 1000));
  const changed = (): void => options.changes?.publish();
  const wal = new WalSync(options.path === ':memory:' ? undefined : `${options.path}-wal`);
  const durable = (): Promise<void> => wal.flush();
  let open = true;
  return {
    apis: new SqliteApis(db, now, changed, durable),
    plans: new SqlitePlans(db, now, changed, durable),
    consumers: new SqliteConsumers(db, now, changed, durable),
    keys: new SqliteKeys(db, now, changed, durable),
    usage: new SqliteUsage(db, durable),
    targets: new SqliteTargets(db, now, changed, durable),
    secrets: new SqliteSecrets(db, durable),
    keyFeed: new SqliteKeyFeed(db, changed, durable),
    credits: new SqliteCredits(db, now, changed, durable),
    discovery: new SqliteDiscovery(db, durable),
    fleet: new SqliteFleetStatus(db),
    snapshot: async (): Promise<CatalogSnapshot> => readSnapshot(db),
    ping: async (): Promise<boolean> => open && db.prepare('SELECT 1 AS ok').get() !== undefined,
    close: async (): Promise<void> => {
      if (!open) return;
      open = false;
      await wal.flush().catch(() => undefined);
      await wal.close();
      db.close();
    },
  };
}
