import type { Migration } from './index.js';

// Version 7: PostgreSQL keeps a batch's rows in its usage_batches row until the rollup folds them
// (postgres/007-batch-log.ts). SQLite stores rows inside the ingesting transaction, so these columns stay NULL; they
// only keep both backends' schemas alike (and `tollgate migrate-store` copies them one to one).
export const batchLog: Migration = {
  version: 7,
  name: 'batch-log',
  sql: `
ALTER TABLE usage_batches ADD COLUMN log_numbers TEXT;
ALTER TABLE usage_batches ADD COLUMN log_texts TEXT;
ALTER TABLE usage_batches ADD COLUMN fleet_numbers TEXT;
ALTER TABLE usage_batches ADD COLUMN fleet_texts TEXT;
`,
};
