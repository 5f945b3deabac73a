import type { Migration } from './index.js';

// Upstream status classes of allowed requests (the report's `status`), per bucket, so usage queries can show error
// rates next to the counts. Existing rows read as 0: reports stored before this migration carried classes that were
// not kept.
const tables = ['usage_minute', 'usage_hour', 'usage_day'];
const classes = ['1xx', '2xx', '3xx', '4xx', '5xx'];

export const statusClasses: Migration = {
  version: 2,
  name: 'status-classes',
  sql: tables.flatMap((t) => classes.map((c) => `ALTER TABLE ${t} ADD COLUMN status_${c} INTEGER NOT NULL DEFAULT 0;`)).join('\n'),
};
