import type { Migration } from './index.js';

// Version 17: fleet status per VM (docs/control.md "Fleet status"). A report's `proxy.vm` names the VM within its
// Envoy process, so the rows are keyed by (target, node, reporter, vm): a worker still on an old configuration is no
// longer hidden behind another VM of its process that reported later. Rows stored before, and reports of filters
// that predate the field, have vm ''. SQLite cannot change a primary key in place: the table is rebuilt. A node's rows
// share the key's prefix, so the per-node bound on VM rows reads them without another index.
export const fleetVms: Migration = {
  version: 17,
  name: 'fleet-vms',
  sql: `
CREATE TABLE fleet_proxies_vm (
  target_id TEXT NOT NULL, node TEXT NOT NULL, reporter TEXT NOT NULL, vm TEXT NOT NULL DEFAULT '',
  config_version TEXT NOT NULL DEFAULT '', version_since INTEGER NOT NULL,
  feed_epoch TEXT, feed_revision INTEGER, keys INTEGER,
  flush_failed INTEGER NOT NULL DEFAULT 0, feed_failed INTEGER NOT NULL DEFAULT 0, dropped INTEGER NOT NULL DEFAULT 0,
  last_seen INTEGER NOT NULL,
  PRIMARY KEY (target_id, node, reporter, vm)
) WITHOUT ROWID;
INSERT INTO fleet_proxies_vm (target_id, node, reporter, vm, config_version, version_since, feed_epoch, feed_revision, keys, flush_failed, feed_failed, dropped, last_seen)
SELECT target_id, node, reporter, '', config_version, version_since, feed_epoch, feed_revision, keys, flush_failed, feed_failed, dropped, last_seen FROM fleet_proxies;
DROP TABLE fleet_proxies;
ALTER TABLE fleet_proxies_vm RENAME TO fleet_proxies;
CREATE INDEX fleet_proxies_last_seen ON fleet_proxies(last_seen);
`,
};
