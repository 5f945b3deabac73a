// FleetStatusRepository on PostgreSQL (every replica reads the same rows): one upsert per report.
import type pg from 'pg';
import type { ProxyStatus } from '../../contracts/usage-report.js';
import { proxyFromRow, rowValues, type FleetStatusRepository, type ProxyRow, type ProxyTableRow } from './repository.js';

export class PostgresFleetStatus implements FleetStatusRepository {
  constructor(private readonly pool: pg.Pool) {}

  async record(targetId: string, reporter: string, status: ProxyStatus, now: number): Promise<void> {
    const v = rowValues(status);
    await this.pool.query(`
INSERT INTO fleet_proxies AS p (target_id, node, reporter, config_version, version_since, feed_epoch, feed_revision, keys, flush_failed, feed_failed, dropped, last_seen)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $5)
ON CONFLICT (target_id, node, reporter) DO UPDATE SET
  version_since = CASE WHEN p.config_version = EXCLUDED.config_version THEN p.version_since ELSE EXCLUDED.version_since END,
  config_version = EXCLUDED.config_version, feed_epoch = EXCLUDED.feed_epoch, feed_revision = EXCLUDED.feed_revision, keys = EXCLUDED.keys,
  flush_failed = EXCLUDED.flush_failed, feed_failed = EXCLUDED.feed_failed, dropped = EXCLUDED.dropped,
  last_seen = GREATEST(p.last_seen, EXCLUDED.last_seen)`,
    [targetId, status.node, reporter, v.configVersion, now, v.feedEpoch, v.feedRevision, v.keys, v.flushFailed, v.feedFailed, v.dropped]);
  }

  async all(): Promise<ProxyRow[]> {
    const r = await this.pool.query('SELECT * FROM fleet_proxies ORDER BY target_id, node, reporter');
    return (r.rows as ProxyTableRow[]).map(proxyFromRow);
  }

  async forgetBefore(before: number): Promise<number> {
    return (await this.pool.query('DELETE FROM fleet_proxies WHERE last_seen < $1', [before])).rowCount ?? 0;
  }
}
