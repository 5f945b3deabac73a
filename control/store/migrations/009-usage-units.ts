import type { Migration } from './index.js';

// Version 9: the units allowed requests spent against quota (operation costs, docs/usage-report.md `units`), per usage
// bucket next to the request count. NULL in rows stored before: they are read as one unit per allowed request (what
// every request spent then) and 0 for other outcomes, by the reads and by the upserts that add to such a row, so no
// row is rewritten here. fleet_windows needs no column: its count becomes units, which it equalled until now.
export const usageUnits: Migration = {
  version: 9,
  name: 'usage-units',
  sql: `
ALTER TABLE usage_minute ADD COLUMN units INTEGER;
ALTER TABLE usage_hour ADD COLUMN units INTEGER;
ALTER TABLE usage_day ADD COLUMN units INTEGER;
`,
};
