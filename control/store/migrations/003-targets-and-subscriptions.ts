import type { Migration } from './index.js';

// Targets: where a compiled configuration goes (one WasmPlugin each) and the reporter credential scoped to it.
// Fleet windows move from keys to subscriptions (plan + consumer), so rotating a key keeps the consumer's counts.
// fleet_windows holds only the current windows' counts (at most a month, pruned continuously); it is rebuilt empty:
// an upgrade forgets at most the windows in progress, as a restart of every proxy would.
export const targetsAndSubscriptions: Migration = {
  version: 3,
  name: 'targets-and-subscriptions',
  sql: `
CREATE TABLE targets (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  namespace TEXT NOT NULL,
  selector TEXT,
  target_refs TEXT,
  api_ids TEXT NOT NULL,
  deny_unmatched INTEGER NOT NULL,
  pass_path_forms TEXT NOT NULL,
  report_token TEXT NOT NULL UNIQUE,
  previous_report_token TEXT,
  previous_valid_until INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
ALTER TABLE usage_batches ADD COLUMN target_id TEXT NOT NULL DEFAULT '';
ALTER TABLE usage_batches ADD COLUMN refused INTEGER NOT NULL DEFAULT 0;
DROP TABLE fleet_windows;
CREATE TABLE fleet_windows (
  plan_id TEXT NOT NULL, consumer_id TEXT NOT NULL, per TEXT NOT NULL, window_start INTEGER NOT NULL,
  reporter TEXT NOT NULL, count INTEGER NOT NULL,
  PRIMARY KEY (plan_id, consumer_id, per, window_start, reporter)
) WITHOUT ROWID;
CREATE INDEX fleet_windows_current ON fleet_windows(per, window_start);
`,
};
