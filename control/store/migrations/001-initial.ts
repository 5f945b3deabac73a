import type { Migration } from './index.js';

export const initial: Migration = {
  version: 1,
  name: 'initial',
  sql: `
CREATE TABLE apis (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  path_prefix TEXT NOT NULL,
  hosts TEXT NOT NULL,
  methods TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE TABLE plans (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  limits TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE TABLE plan_apis (
  plan_id TEXT NOT NULL REFERENCES plans(id) ON DELETE CASCADE,
  api_id TEXT NOT NULL REFERENCES apis(id) ON DELETE RESTRICT,
  PRIMARY KEY (plan_id, api_id)
) WITHOUT ROWID;
CREATE INDEX plan_apis_api ON plan_apis(api_id);
CREATE TABLE consumers (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
-- Only the SHA-256 digest and a short display prefix of a key: the plaintext is shown once and never stored.
CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  consumer_id TEXT NOT NULL REFERENCES consumers(id) ON DELETE CASCADE,
  plan_id TEXT NOT NULL REFERENCES plans(id) ON DELETE RESTRICT,
  digest TEXT NOT NULL UNIQUE,
  prefix TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER,
  revoked_at INTEGER,
  replaced_by TEXT
);
CREATE INDEX api_keys_consumer ON api_keys(consumer_id, id);
CREATE INDEX api_keys_plan ON api_keys(plan_id);
CREATE TABLE secrets (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
-- The unique batch id is what makes ingestion idempotent: inserted in the same transaction as the counts.
CREATE TABLE usage_batches (
  batch_id TEXT PRIMARY KEY,
  reporter TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  entries INTEGER NOT NULL,
  dropped INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE usage_minute (
  start INTEGER NOT NULL, key_id TEXT NOT NULL, api_id TEXT NOT NULL, outcome TEXT NOT NULL,
  consumer_id TEXT NOT NULL, count INTEGER NOT NULL,
  PRIMARY KEY (start, key_id, api_id, outcome)
) WITHOUT ROWID;
CREATE TABLE usage_hour (
  start INTEGER NOT NULL, key_id TEXT NOT NULL, api_id TEXT NOT NULL, outcome TEXT NOT NULL,
  consumer_id TEXT NOT NULL, count INTEGER NOT NULL,
  PRIMARY KEY (start, key_id, api_id, outcome)
) WITHOUT ROWID;
CREATE TABLE usage_day (
  start INTEGER NOT NULL, key_id TEXT NOT NULL, api_id TEXT NOT NULL, outcome TEXT NOT NULL,
  consumer_id TEXT NOT NULL, count INTEGER NOT NULL,
  PRIMARY KEY (start, key_id, api_id, outcome)
) WITHOUT ROWID;
-- Allowed requests per reporter and quota window: the fleet reply sums every reporter but the asking one.
CREATE TABLE fleet_windows (
  key_id TEXT NOT NULL, per TEXT NOT NULL, window_start INTEGER NOT NULL, reporter TEXT NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (key_id, per, window_start, reporter)
) WITHOUT ROWID;
`,
};
