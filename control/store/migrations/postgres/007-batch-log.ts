// PostgreSQL's version 7, as SQLite's 007-batch-log: a batch's minute rows and fleet additions are stored in its own
// usage_batches row (the log: four array columns, one row per batch, no per-row index) and the rollup folds them into
// usage_minute, usage_hour, usage_day and fleet_windows, then clears them (store/postgres/usage.ts). Batches pending
// under version 5 have their minute rows in usage_minute already: only their hours and days are folded here.
// usage_minute's batch_seq index goes: no query reads minute rows by batch any more.
import type { Migration } from '../index.js';

// A migration is frozen at its version, so it keeps its own copy of the fold SQL (as 005 does) rather than importing
// the store's current statements, which may change after it.
const STATUS = ['1xx', '2xx', '3xx', '4xx', '5xx'].map((c) => `status_${c}`);
const foldInto = (table: string, size: number): string => `
INSERT INTO ${table} AS u (start, key_id, api_id, outcome, consumer_id, count, ${STATUS.join(', ')})
SELECT start - start % ${size}, key_id, api_id, outcome, MIN(consumer_id), SUM(count), ${STATUS.map((c) => `SUM(${c})`).join(', ')}
FROM moved GROUP BY 1, key_id, api_id, outcome
ON CONFLICT (start, key_id, api_id, outcome) DO UPDATE SET count = u.count + EXCLUDED.count,
  ${STATUS.map((c) => `${c} = u.${c} + EXCLUDED.${c}`).join(', ')}`;

export const batchLog: Migration = {
  version: 7,
  name: 'batch-log',
  sql: `
WITH taken AS (
  UPDATE usage_batches SET rolled_up = true WHERE NOT rolled_up RETURNING seq
), moved AS (
  SELECT start, key_id, api_id, outcome, consumer_id, count, ${STATUS.join(', ')} FROM usage_minute WHERE batch_seq IN (SELECT seq FROM taken)
), hours AS (${foldInto('usage_hour', 3600)} RETURNING 1), days AS (${foldInto('usage_day', 86_400)} RETURNING 1)
SELECT (SELECT COUNT(*) FROM hours), (SELECT COUNT(*) FROM days);
DROP INDEX usage_minute_batch;
ALTER TABLE usage_batches ADD COLUMN log_numbers BIGINT[], ADD COLUMN log_texts TEXT[] COLLATE "C", ADD COLUMN fleet_numbers BIGINT[], ADD COLUMN fleet_texts TEXT[] COLLATE "C";
`,
};
