// PostgreSQL's version 9, as SQLite's 009-usage-units: a nullable units column per usage bucket (NULL = stored before,
// read as one unit per allowed request). A column without a default is added to every partition of usage_minute
// without a rewrite, and new day partitions copy it (CREATE TABLE … LIKE usage_minute). Batches still pending in the
// log carry no units row in log_numbers: unnest pads the missing row with NULL, which the fold reads the same way.
import type { Migration } from '../index.js';

export const usageUnits: Migration = {
  version: 9,
  name: 'usage-units',
  sql: `
ALTER TABLE usage_minute ADD COLUMN units BIGINT;
ALTER TABLE usage_hour ADD COLUMN units BIGINT;
ALTER TABLE usage_day ADD COLUMN units BIGINT;
`,
};
