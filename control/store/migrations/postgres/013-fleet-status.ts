// PostgreSQL's version 13, as SQLite's 013-fleet-status: the latest proxy status per (target, node, reporter).
import type { Migration } from '../index.js';

export const fleetStatus: Migration = {
  version: 13,
  name: 'fleet-status',
  sql: `
CREATE TABLE fleet_proxies (
  target_id TEXT COLLATE "C" NOT NULL, node TEXT COLLATE "C" NOT NULL, reporter TEXT COLLATE "C" NOT NULL,
  config_version TEXT COLLATE "C" NOT NULL DEFAULT '', version_since BIGINT NOT NULL,
  feed_epoch TEXT COLLATE "C", feed_revision BIGINT, keys BIGINT,
  flush_failed BIGINT NOT NULL DEFAULT 0, feed_failed BIGINT NOT NULL DEFAULT 0, dropped BIGINT NOT NULL DEFAULT 0,
  last_seen BIGINT NOT NULL,
  PRIMARY KEY (target_id, node, reporter)
);
CREATE INDEX fleet_proxies_last_seen ON fleet_proxies(last_seen);
`,
};
