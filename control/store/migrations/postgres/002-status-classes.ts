// PostgreSQL's version 2, as SQLite's 002-status-classes: upstream status classes of allowed requests per usage bucket.
// Adding a column with a constant default to a partitioned table adds it to every partition without a rewrite.
import type { Migration } from '../index.js';

const tables = ['usage_minute', 'usage_hour', 'usage_day'];
const classes = ['1xx', '2xx', '3xx', '4xx', '5xx'];

export const statusClasses: Migration = {
  version: 2,
  name: 'status-classes',
  sql: tables.flatMap((t) => classes.map((c) => `ALTER TABLE ${t} ADD COLUMN status_${c} BIGINT NOT NULL DEFAULT 0;`)).join('\n'),
};
