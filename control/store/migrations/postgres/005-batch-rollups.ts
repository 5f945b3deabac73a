// PostgreSQL's version 5, as SQLite's 005-batch-rollups. Rollups are tracked per batch instead of per minute row, so a
// minute row is written once (version 4 rewrote every row to set its `rolled_up` flag, and index entries with it):
// - usage_batches.seq (a sequence), usage_batches.rolled_up (false for new batches; a partial index finds those) and
//   usage_batches.first_minute (its earliest minute row: the rollup reads only the partitions from there on);
// - usage_minute.batch_seq names the batch a row came with (0: stored before this version, rolled up already);
//   store/postgres/usage.ts folds whole batches and adds the minute rows of batches not rolled up to hour/day answers.
// Minute rows still pending under version 4's flag are folded first, so dropping the flag loses nothing.
// usage_minute_start becomes a BRIN index (rows arrive roughly in time order; a block range summary is enough for the
// time-range scans no key, consumer or API index serves, and costs next to nothing per row appended).
// usage_hour and usage_day get fillfactor 70: the rollup's upserts mostly add to existing rows, and with room in the page
// those updates are HOT (no new entries in their four indexes).
// fleet_windows.cap: the plan's limit for the window, so one INSERT … ON CONFLICT DO UPDATE can cap the sum (a row's
// update no longer needs a second statement); fillfactor 50 leaves room in each page for those updates to stay HOT
// (no new index entries, dead versions pruned in place). fleet_windows_current goes: the planner preferred it to the
// primary key for the per-window lookups of every reply and read every reporter's row of a window per lookup.
import type { Migration } from '../index.js';

const STATUS = ['1xx', '2xx', '3xx', '4xx', '5xx'].map((c) => `status_${c}`);
const foldInto = (table: string, size: number): string => `
INSERT INTO ${table} AS u (start, key_id, api_id, outcome, consumer_id, count, ${STATUS.join(', ')})
SELECT start - start % ${size}, key_id, api_id, outcome, MIN(consumer_id), SUM(count), ${STATUS.map((c) => `SUM(${c})`).join(', ')}
FROM moved GROUP BY 1, key_id, api_id, outcome
ON CONFLICT (start, key_id, api_id, outcome) DO UPDATE SET count = u.count + EXCLUDED.count,
  ${STATUS.map((c) => `${c} = u.${c} + EXCLUDED.${c}`).join(', ')}`;

export const batchRollups: Migration = {
  version: 5,
  name: 'batch-rollups',
  sql: `
WITH moved AS (
  UPDATE usage_minute SET rolled_up = true WHERE NOT rolled_up
  RETURNING start, key_id, api_id, outcome, consumer_id, count, ${STATUS.join(', ')}
), hours AS (${foldInto('usage_hour', 3600)} RETURNING 1), days AS (${foldInto('usage_day', 86_400)} RETURNING 1)
SELECT (SELECT COUNT(*) FROM hours), (SELECT COUNT(*) FROM days);
ALTER TABLE usage_minute DROP COLUMN rolled_up;
ALTER TABLE usage_minute ADD COLUMN batch_seq BIGINT NOT NULL DEFAULT 0;
CREATE INDEX usage_minute_batch ON usage_minute (batch_seq);
DROP INDEX usage_minute_start;
CREATE INDEX usage_minute_start ON usage_minute USING brin (start);
ALTER TABLE usage_hour SET (fillfactor = 70);
ALTER TABLE usage_day SET (fillfactor = 70);
ALTER TABLE usage_batches ADD COLUMN seq BIGSERIAL;
ALTER TABLE usage_batches ADD COLUMN first_minute BIGINT NOT NULL DEFAULT 0;
ALTER TABLE usage_batches ADD COLUMN rolled_up BOOLEAN NOT NULL DEFAULT true;
ALTER TABLE usage_batches ALTER COLUMN rolled_up SET DEFAULT false;
CREATE INDEX usage_batches_pending ON usage_batches (seq) WHERE NOT rolled_up;
ALTER TABLE fleet_windows ADD COLUMN cap BIGINT NOT NULL DEFAULT 0;
ALTER TABLE fleet_windows SET (fillfactor = 50);
DROP INDEX fleet_windows_current;
`,
};
