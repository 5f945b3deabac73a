// FleetStatusRepository on SQLite: one upsert per report. Not synced to disk per write (unlike usage): a status lost
// in a crash is replaced by the next heartbeat an interval later.
import type Database from 'better-sqlite3';
import type { ProxyStatus } from '../../contracts/usage-report.js';
import { proxyFromRow, rowValues, type FleetStatusRepository, type ProxyRow, type ProxyTableRow } from './repository.js';

type Db = Database.Database;

export class SqliteFleetStatus implements FleetStatusRepository {
  constructor(private readonly db: Db) {}

  async record(targetId: string, reporter: string, status: ProxyStatus, now: number): Promise<void> {
    const v = rowValues(status);
    this.db.prepare(`
INSERT INTO fleet_proxies (target_id, node, reporter, config_version, version_since, feed_epoch, feed_revision, keys, flush_failed, feed_failed, dropped, last_seen)
VALUES (@targetId, @node, @reporter, @configVersion, @now, @feedEpoch, @feedRevision, @keys, @flushFailed, @feedFailed, @dropped, @now)
ON CONFLICT (target_id, node, reporter) DO UPDATE SET
  version_since = CASE WHEN fleet_proxies.config_version = excluded.config_version THEN fleet_proxies.version_since ELSE excluded.version_since END,
  config_version = excluded.config_version, feed_epoch = excluded.feed_epoch, feed_revision = excluded.feed_revision, keys = excluded.keys,
  flush_failed = excluded.flush_failed, feed_failed = excluded.feed_failed, dropped = excluded.dropped,
  last_seen = MAX(fleet_proxies.last_seen, excluded.last_seen)`).run({ targetId, node: status.node, reporter, now, ...v });
  }

  async all(): Promise<ProxyRow[]> {
    return (this.db.prepare('SELECT * FROM fleet_proxies ORDER BY target_id, node, reporter').all() as ProxyTableRow[]).map(proxyFromRow);
  }

  async forgetBefore(before: number): Promise<number> {
    return this.db.prepare('DELETE FROM fleet_proxies WHERE last_seen < ?').run(before).changes;
  }
}
