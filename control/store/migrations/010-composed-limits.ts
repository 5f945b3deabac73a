import type { Migration } from './index.js';

// Version 10: limits that compose and shadow mode (issue 13 items 3-4; docs/control.md "Limits that compose").
// - plans.limits stays the same JSON array: a limit gains optional id, apiId, operationId and shadow, so every stored
//   plan reads as it did (unscoped, enforced limits) and is not rewritten. plans.shadow: the whole plan in shadow mode.
// - api_operations.limits: an operation's default limits from x-tollgate (JSON array; NULL = none).
// - targets.rate_limit_header_style / shadow_header: how the target's filter tells clients about limits and whether
//   it tells the upstream about would-be rejections (the defaults compile to the bytes compiled before).
// - usage_*.would_reject: how many allowed requests a shadow limit would have rejected; NULL in rows stored before,
//   read as 0 (no shadow limits existed), so no row is rewritten.
export const composedLimits: Migration = {
  version: 10,
  name: 'composed-limits',
  sql: `
ALTER TABLE plans ADD COLUMN shadow INTEGER NOT NULL DEFAULT 0 CHECK (shadow IN (0, 1));
ALTER TABLE api_operations ADD COLUMN limits TEXT;
ALTER TABLE targets ADD COLUMN rate_limit_header_style TEXT NOT NULL DEFAULT 'legacy' CHECK (rate_limit_header_style IN ('legacy', 'ietf', 'both'));
ALTER TABLE targets ADD COLUMN shadow_header TEXT;
ALTER TABLE usage_minute ADD COLUMN would_reject INTEGER;
ALTER TABLE usage_hour ADD COLUMN would_reject INTEGER;
ALTER TABLE usage_day ADD COLUMN would_reject INTEGER;
`,
};
