// PostgreSQL's version 11, as SQLite's 011-scoped-fleet: fleet_windows.scope ('' for every row stored before), part of
// the primary key (rebuilt in place; the table holds the current windows only). Batches still pending in the log have
// no scope row in fleet_texts: unnest pads it with NULL, which the fold reads as '' (store/postgres/usage.ts).
import type { Migration } from '../index.js';

export const scopedFleet: Migration = {
  version: 11,
  name: 'scoped-fleet',
  sql: `
ALTER TABLE fleet_windows ADD COLUMN scope TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE fleet_windows DROP CONSTRAINT fleet_windows_pkey;
ALTER TABLE fleet_windows ADD PRIMARY KEY (plan_id, consumer_id, per, window_start, reporter, scope);
`,
};
