// FleetStatusRepository on PostgreSQL (every replica reads the same rows): one upsert per report, and when it adds a
// row, the node's bound.
import type pg from 'pg';
import type { ProxyStatus } from '../../contracts/usage-report.js';
import { MAX_ROWS_PER_NODE, proxyFromRow, rowValues, type FleetStatusRepository, type ProxyRow, type ProxyTableRow } from './repository.js';

export class PostgresFleetStatus implements FleetStatusRepository {
  constructor(private readonly pool: pg.Pool) {}

  async record(targetId: string, reporter: string, status: ProxyStatus, now: number, maxRowsPerTarget: number): Promise<void> {
    const v = rowValues(status);
    // xmax = 0 on the returned row: this statement inserted it (an update sets xmax to its transaction).
    const r = await this.pool.query<{ inserted: boolean }>(`
INSERT INTO fleet_proxies AS p (target_id, node, reporter, vm, config_version, version_since, feed_epoch, feed_revision, keys, flush_failed, feed_failed, dropped, last_seen)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $6)
ON CONFLICT (target_id, node, reporter, vm) DO UPDATE SET
  version_since = CASE WHEN p.config_version = EXCLUDED.config_version THEN p.version_since ELSE EXCLUDED.version_since END,
  config_version = EXCLUDED.config_version, feed_epoch = EXCLUDED.feed_epoch, feed_revision = EXCLUDED.feed_revision, keys = EXCLUDED.keys,
  flush_failed = EXCLUDED.flush_failed, feed_failed = EXCLUDED.feed_failed, dropped = EXCLUDED.dropped,
  last_seen = GREATEST(p.last_seen, EXCLUDED.last_seen)
RETURNING (xmax = 0) AS inserted`,
    [targetId, status.node, reporter, v.vm, v.configVersion, now, v.feedEpoch, v.feedRevision, v.keys, v.flushFailed, v.feedFailed, v.dropped]);
    // Only a new row can take the node past the bound. Two replicas adding rows at once may each miss the other's
    // row; the next new row of the node trims again (the bound is exceeded by at most the concurrent inserts).
    if (r.rows[0]?.inserted !== true) return;
    await this.pool.query(`
DELETE FROM fleet_proxies WHERE target_id = $1 AND node = $2 AND (reporter, vm) IN (
  SELECT reporter, vm FROM fleet_proxies WHERE target_id = $1 AND node = $2
  ORDER BY last_seen DESC, reporter DESC, vm DESC OFFSET ${MAX_ROWS_PER_NODE})`, [targetId, status.node]);
    await this.pool.query(`
DELETE FROM fleet_proxies WHERE target_id = $1 AND (node, reporter, vm) IN (
  SELECT node, reporter, vm FROM fleet_proxies WHERE target_id = $1
  ORDER BY last_seen DESC, node DESC, reporter DESC, vm DESC OFFSET $2)`, [targetId, maxRowsPerTarget]);
  }

  async all(): Promise<ProxyRow[]> {
    const r = await this.pool.query('SELECT * FROM fleet_proxies ORDER BY target_id, node, reporter, vm');
    return (r.rows as ProxyTableRow[]).map(proxyFromRow);
  }

  async forgetBefore(before: number): Promise<number> {
    return (await this.pool.query('DELETE FROM fleet_proxies WHERE last_seen < $1', [before])).rowCount ?? 0;
  }
}
