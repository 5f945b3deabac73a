import type { Migration } from './index.js';

// Version 13: fleet status (issue 14; docs/control.md "Fleet status"). The latest proxy status each Envoy process
// (target, node id, reporter id) sent with a usage report, and when: one row per process, upserted on every report
// (a heartbeat per worker and flush interval), deleted by the forget sweep. `version_since`: when the row's
// configVersion last changed (how long a laggard has run an old configuration). Times in unix milliseconds.
export const fleetStatus: Migration = {
  version: 13,
  name: 'fleet-status',
  sql: `
CREATE TABLE fleet_proxies (
  target_id TEXT NOT NULL, node TEXT NOT NULL, reporter TEXT NOT NULL,
  config_version TEXT NOT NULL DEFAULT '', version_since INTEGER NOT NULL,
  feed_epoch TEXT, feed_revision INTEGER, keys INTEGER,
  flush_failed INTEGER NOT NULL DEFAULT 0, feed_failed INTEGER NOT NULL DEFAULT 0, dropped INTEGER NOT NULL DEFAULT 0,
  last_seen INTEGER NOT NULL,
  PRIMARY KEY (target_id, node, reporter)
) WITHOUT ROWID;
CREATE INDEX fleet_proxies_last_seen ON fleet_proxies(last_seen);
`,
};
