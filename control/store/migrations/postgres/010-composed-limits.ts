// PostgreSQL's version 10, as SQLite's 010-composed-limits: plan shadow, operation default limits, the target's header
// settings and would_reject per usage bucket (nullable without default: added to every usage_minute partition without
// a rewrite; batches still pending in the log carry no wouldReject row, which unnest pads with NULL, read as 0).
import type { Migration } from '../index.js';

const T = 'TEXT COLLATE "C"';

export const composedLimits: Migration = {
  version: 10,
  name: 'composed-limits',
  sql: `
ALTER TABLE plans ADD COLUMN shadow BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE api_operations ADD COLUMN limits ${T};
ALTER TABLE targets ADD COLUMN rate_limit_header_style ${T} NOT NULL DEFAULT 'legacy' CHECK (rate_limit_header_style IN ('legacy', 'ietf', 'both'));
ALTER TABLE targets ADD COLUMN shadow_header ${T};
ALTER TABLE usage_minute ADD COLUMN would_reject BIGINT;
ALTER TABLE usage_hour ADD COLUMN would_reject BIGINT;
ALTER TABLE usage_day ADD COLUMN would_reject BIGINT;
`,
};
