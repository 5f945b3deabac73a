// FleetStatusRepository on SQLite: one upsert per report (and, when it adds a row, the node's bound). Not synced to
// disk per write (unlike usage): a status lost in a crash is replaced by the next heartbeat an interval later.
import type Database from 'better-sqlite3';
import type { ProxyStatus } from '../../contracts/usage-report.js';
import { MAX_ROWS_PER_NODE, proxyFromRow, rowValues, type FleetStatusRepository, type ProxyRow, type ProxyTableRow } from './repository.js';

type Db = Database.Database;

export class SqliteFleetStatus implements FleetStatusRepository {
  private readonly exists: Database.Statement;
  private readonly upsert: Database.Statement;
  private readonly trim: Database.Statement;
  private readonly trimTarget: Database.Statement;
  private readonly write: (p: Record<string, unknown>) => void;

  constructor(private readonly db: Db) {
    this.exists = db.prepare('SELECT 1 FROM fleet_proxies WHERE target_id = @targetId AND node = @node AND reporter = @reporter AND vm = @vm');
    this.upsert = db.prepare(`
INSERT INTO fleet_proxies (target_id, node, reporter, vm, config_version, version_since, feed_epoch, feed_revision, keys, flush_failed, feed_failed, dropped, last_seen)
VALUES (@targetId, @node, @reporter, @vm, @configVersion, @now, @feedEpoch, @feedRevision, @keys, @flushFailed, @feedFailed, @dropped, @now)
ON CONFLICT (target_id, node, reporter, vm) DO UPDATE SET
  version_since = CASE WHEN fleet_proxies.config_version = excluded.config_version THEN fleet_proxies.version_since ELSE excluded.version_since END,
  config_version = excluded.config_version, feed_epoch = excluded.feed_epoch, feed_revision = excluded.feed_revision, keys = excluded.keys,
  flush_failed = excluded.flush_failed, feed_failed = excluded.feed_failed, dropped = excluded.dropped,
  last_seen = MAX(fleet_proxies.last_seen, excluded.last_seen)`);
    // The node's rows past the newest MAX_ROWS_PER_NODE (ties broken by key, so the bound is exact).
    this.trim = db.prepare(`
DELETE FROM fleet_proxies WHERE target_id = @targetId AND node = @node AND (reporter, vm) IN (
  SELECT reporter, vm FROM fleet_proxies WHERE target_id = @targetId AND node = @node
  ORDER BY last_seen DESC, reporter DESC, vm DESC LIMIT -1 OFFSET ${MAX_ROWS_PER_NODE})`);
    // The target's rows past its newest @max (ties broken by key).
    this.trimTarget = db.prepare(`
DELETE FROM fleet_proxies WHERE target_id = @targetId AND (node, reporter, vm) IN (
  SELECT node, reporter, vm FROM fleet_proxies WHERE target_id = @targetId
  ORDER BY last_seen DESC, node DESC, reporter DESC, vm DESC LIMIT -1 OFFSET @max)`);
    // Only a new row can take the node or target past a bound: an update (nearly every report) costs no trim.
    this.write = db.transaction((p: Record<string, unknown>) => {
      const isNew = this.exists.get(p) === undefined;
      this.upsert.run(p);
      if (isNew) {
        this.trim.run(p);
        this.trimTarget.run({ targetId: p.targetId, max: p.max });
      }
    });
  }

  async record(targetId: string, reporter: string, status: ProxyStatus, now: number, maxRowsPerTarget: number): Promise<void> {
    this.write({ targetId, node: status.node, reporter, now, max: maxRowsPerTarget, ...rowValues(status) });
  }

  async all(): Promise<ProxyRow[]> {
    return (this.db.prepare('SELECT * FROM fleet_proxies ORDER BY target_id, node, reporter, vm').all() as ProxyTableRow[]).map(proxyFromRow);
  }

  async forgetBefore(before: number): Promise<number> {
    return this.db.prepare('DELETE FROM fleet_proxies WHERE last_seen < ?').run(before).changes;
  }
}
