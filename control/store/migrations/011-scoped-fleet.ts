import type { Migration } from './index.js';

// Version 11: scoped fleet windows (issue 13; docs/control.md "Limits that compose"). fleet_windows gains `scope`
// ('' = the whole subscription, as every row stored before; `<apiId>` or `<apiId>/<operationId>` for the windows of
// scoped limits), part of the primary key. SQLite cannot change a primary key in place: the table (current windows
// only, at most a month of them) is rebuilt with its rows.
export const scopedFleet: Migration = {
  version: 11,
  name: 'scoped-fleet',
  sql: `
CREATE TABLE fleet_windows_scoped (
  plan_id TEXT NOT NULL, consumer_id TEXT NOT NULL, per TEXT NOT NULL, window_start INTEGER NOT NULL,
  reporter TEXT NOT NULL, count INTEGER NOT NULL, cap INTEGER NOT NULL DEFAULT 0, scope TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (plan_id, consumer_id, per, window_start, reporter, scope)
) WITHOUT ROWID;
INSERT INTO fleet_windows_scoped (plan_id, consumer_id, per, window_start, reporter, count, cap)
  SELECT plan_id, consumer_id, per, window_start, reporter, count, cap FROM fleet_windows;
DROP TABLE fleet_windows;
ALTER TABLE fleet_windows_scoped RENAME TO fleet_windows;
CREATE INDEX fleet_windows_current ON fleet_windows(per, window_start);
`,
};
