// Service discovery's records in SQLite (control/discovery/record.ts).
import { DISCOVERED_COLUMNS, discoveredValues, toDiscovered, type DiscoveredApi, type DiscoveredRow, type DiscoveryRepository } from '../../discovery/record.js';
import type { Db } from './open.js';
import type { Durable } from './shared.js';

export class SqliteDiscovery implements DiscoveryRepository {
  constructor(private readonly db: Db, private readonly durable: Durable) {}

  async list(): Promise<DiscoveredApi[]> {
    return (this.db.prepare(`SELECT ${DISCOVERED_COLUMNS} FROM discovered_apis ORDER BY namespace, service_name, service_uid`).all() as DiscoveredRow[]).map(toDiscovered);
  }

  async put(record: DiscoveredApi, replaces?: string): Promise<void> {
    this.db.transaction(() => {
      if (replaces !== undefined) this.db.prepare('DELETE FROM discovered_apis WHERE service_uid = ?').run(replaces);
      this.db.prepare(`INSERT OR REPLACE INTO discovered_apis (${DISCOVERED_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(...discoveredValues(record));
    }).immediate();
    await this.durable();
  }

  async remove(serviceUid: string): Promise<void> {
    this.db.prepare('DELETE FROM discovered_apis WHERE service_uid = ?').run(serviceUid);
    await this.durable();
  }
}
