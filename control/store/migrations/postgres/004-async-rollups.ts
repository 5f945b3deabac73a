// PostgreSQL's version 4, as SQLite's 004-async-rollups: minute rows are appended by ingestion (no primary key: the
// same minute, key, API and outcome may arrive from many proxies, and rows are summed when read) and rolled up into
// usage_hour/usage_day by one replica at a time (store/postgres/rollup.ts). Rows stored before are rolled up already.
import type { Migration } from '../index.js';

export const asyncRollups: Migration = {
  version: 4,
  name: 'async-rollups',
  sql: `
ALTER TABLE usage_minute DROP CONSTRAINT usage_minute_pkey;
ALTER TABLE usage_minute ADD COLUMN rolled_up BOOLEAN NOT NULL DEFAULT true;
CREATE INDEX usage_minute_start ON usage_minute (start);
CREATE INDEX usage_minute_pending ON usage_minute (start) WHERE NOT rolled_up;
`,
};
