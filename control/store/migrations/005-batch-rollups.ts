import type { Migration } from './index.js';

// Version 5: PostgreSQL tracks rollups per batch instead of per minute row (postgres/005-batch-rollups.ts), and caps
// fleet counts in one upsert with the cap stored beside the count. SQLite still rolls up inside the ingesting
// transaction: its batches are always rolled up and its minute rows carry no batch (0); the columns only keep both
// backends' schemas alike (and `tollgate migrate-store` copies them one to one).
export const batchRollups: Migration = {
  version: 5,
  name: 'batch-rollups',
  sql: `
ALTER TABLE usage_minute DROP COLUMN rolled_up;
ALTER TABLE usage_minute ADD COLUMN batch_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE usage_batches ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE usage_batches ADD COLUMN first_minute INTEGER NOT NULL DEFAULT 0;
ALTER TABLE usage_batches ADD COLUMN rolled_up INTEGER NOT NULL DEFAULT 1;
ALTER TABLE fleet_windows ADD COLUMN cap INTEGER NOT NULL DEFAULT 0;
`,
};
