// PostgreSQL's version 3, as SQLite's 003-targets-and-subscriptions: targets with their reporter credentials, and fleet
// windows per subscription (plan + consumer) instead of per key, rebuilt empty.
import type { Migration } from '../index.js';

const T = 'TEXT COLLATE "C"';

export const targetsAndSubscriptions: Migration = {
  version: 3,
  name: 'targets-and-subscriptions',
  sql: `
CREATE TABLE targets (
  id ${T} PRIMARY KEY,
  name ${T} NOT NULL UNIQUE,
  namespace ${T} NOT NULL,
  selector ${T},
  target_refs ${T},
  api_ids ${T} NOT NULL,
  deny_unmatched BOOLEAN NOT NULL,
  pass_path_forms ${T} NOT NULL,
  report_token ${T} NOT NULL UNIQUE,
  previous_report_token ${T},
  previous_valid_until BIGINT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
ALTER TABLE usage_batches ADD COLUMN target_id ${T} NOT NULL DEFAULT '';
ALTER TABLE usage_batches ADD COLUMN refused BIGINT NOT NULL DEFAULT 0;
DROP TABLE fleet_windows;
CREATE TABLE fleet_windows (
  plan_id ${T} NOT NULL, consumer_id ${T} NOT NULL, per ${T} NOT NULL, window_start BIGINT NOT NULL,
  reporter ${T} NOT NULL, count BIGINT NOT NULL,
  PRIMARY KEY (plan_id, consumer_id, per, window_start, reporter)
);
CREATE INDEX fleet_windows_current ON fleet_windows(per, window_start);
`,
};
