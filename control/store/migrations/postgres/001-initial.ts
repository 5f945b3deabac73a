// PostgreSQL's version 1: the same tables as SQLite's 001-initial, in PostgreSQL's types. Text compares bytewise
// (COLLATE "C", as SQLite's BINARY) so ids page in the same order on both backends whatever the database's locale.
// usage_minute is partitioned by day (RANGE on start); its partitions are created on demand (store/postgres/partitions.ts).
import type { Migration } from '../index.js';

const T = 'TEXT COLLATE "C"';
/** Columns of every usage table, and the indexes a usage query by key, consumer or API over a long range uses. */
const usageTable = (name: string, partitioned: boolean): string => `
CREATE TABLE ${name} (
  start BIGINT NOT NULL, key_id ${T} NOT NULL, api_id ${T} NOT NULL, outcome ${T} NOT NULL,
  consumer_id ${T} NOT NULL, count BIGINT NOT NULL,
  PRIMARY KEY (start, key_id, api_id, outcome)
)${partitioned ? ' PARTITION BY RANGE (start)' : ''};
CREATE INDEX ${name}_key ON ${name} (key_id, start);
CREATE INDEX ${name}_consumer ON ${name} (consumer_id, start);
CREATE INDEX ${name}_api ON ${name} (api_id, start);`;

export const initial: Migration = {
  version: 1,
  name: 'initial',
  sql: `
CREATE TABLE apis (
  id ${T} PRIMARY KEY,
  name ${T} NOT NULL UNIQUE,
  path_prefix ${T} NOT NULL,
  hosts ${T} NOT NULL,
  methods ${T} NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE TABLE plans (
  id ${T} PRIMARY KEY,
  name ${T} NOT NULL UNIQUE,
  limits ${T} NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE TABLE plan_apis (
  plan_id ${T} NOT NULL REFERENCES plans(id) ON DELETE CASCADE,
  api_id ${T} NOT NULL REFERENCES apis(id) ON DELETE RESTRICT,
  PRIMARY KEY (plan_id, api_id)
);
CREATE INDEX plan_apis_api ON plan_apis(api_id);
CREATE TABLE consumers (
  id ${T} PRIMARY KEY,
  name ${T} NOT NULL UNIQUE,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
-- Only the SHA-256 digest and a short display prefix of a key: the plaintext is shown once and never stored.
CREATE TABLE api_keys (
  id ${T} PRIMARY KEY,
  consumer_id ${T} NOT NULL REFERENCES consumers(id) ON DELETE CASCADE,
  plan_id ${T} NOT NULL REFERENCES plans(id) ON DELETE RESTRICT,
  digest ${T} NOT NULL UNIQUE,
  prefix ${T} NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT,
  revoked_at BIGINT,
  replaced_by ${T}
);
CREATE INDEX api_keys_consumer ON api_keys(consumer_id, id);
CREATE INDEX api_keys_plan ON api_keys(plan_id);
CREATE TABLE secrets (name ${T} PRIMARY KEY, value ${T} NOT NULL);
-- The unique batch id is what makes ingestion idempotent: inserted in the same transaction as the counts.
CREATE TABLE usage_batches (
  batch_id ${T} PRIMARY KEY,
  reporter ${T} NOT NULL,
  received_at BIGINT NOT NULL,
  entries BIGINT NOT NULL,
  dropped BIGINT NOT NULL
);
${usageTable('usage_minute', true)}
${usageTable('usage_hour', false)}
${usageTable('usage_day', false)}
-- Allowed requests per reporter and quota window (replaced by subscriptions in version 3, as in SQLite).
CREATE TABLE fleet_windows (
  key_id ${T} NOT NULL, per ${T} NOT NULL, window_start BIGINT NOT NULL, reporter ${T} NOT NULL,
  count BIGINT NOT NULL,
  PRIMARY KEY (key_id, per, window_start, reporter)
);
`,
};
