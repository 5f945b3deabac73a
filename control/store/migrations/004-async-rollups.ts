import type { Migration } from './index.js';

// Version 4: minute rows may wait to be rolled up into hours and days. On PostgreSQL several replicas ingest at once,
// so ingestion only appends minute rows (no shared row to lock) and one replica at a time rolls them up; `rolled_up`
// says which are done. SQLite has one writer and keeps rolling up inside the ingesting transaction: its rows are
// always rolled up (the column only keeps both backends' schemas alike).
export const asyncRollups: Migration = {
  version: 4,
  name: 'async-rollups',
  sql: 'ALTER TABLE usage_minute ADD COLUMN rolled_up INTEGER NOT NULL DEFAULT 1;',
};
