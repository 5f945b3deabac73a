import type { Migration } from './index.js';

// Version 16: usage per hour as billing reads it (issue 15; docs/usage-export.md): per consumer, plan, API, operation
// and outcome. The plan is the key's plan when its report was stored (a key moved to another plan bills its earlier
// requests to the plan they were made under), the operation the entry's operationId ('' for an API without operations).
// usage_hour is keyed by key, not plan or operation, and keeps serving GET /v1/usage as before; this table is written
// beside it by the same transaction. Rows stored before are copied from usage_hour with the key's plan now and
// operation '' (the entries' operations were not kept). A deleted key's rows (consumer '') get plan ''.
export const usageBilling: Migration = {
  version: 16,
  name: 'usage-billing',
  sql: `
CREATE TABLE usage_billing_hour (
  start INTEGER NOT NULL, consumer_id TEXT NOT NULL, plan_id TEXT NOT NULL, api_id TEXT NOT NULL, operation_id TEXT NOT NULL,
  outcome TEXT NOT NULL, count INTEGER NOT NULL, units INTEGER NOT NULL, would_reject INTEGER NOT NULL,
  status_1xx INTEGER NOT NULL, status_2xx INTEGER NOT NULL, status_3xx INTEGER NOT NULL, status_4xx INTEGER NOT NULL, status_5xx INTEGER NOT NULL,
  PRIMARY KEY (start, consumer_id, plan_id, api_id, operation_id, outcome)
) WITHOUT ROWID;
INSERT INTO usage_billing_hour
SELECT h.start, h.consumer_id, COALESCE(k.plan_id, ''), h.api_id, '', h.outcome, SUM(h.count),
  SUM(COALESCE(h.units, CASE WHEN h.outcome = 'allowed' THEN h.count ELSE 0 END)), SUM(COALESCE(h.would_reject, 0)),
  SUM(h.status_1xx), SUM(h.status_2xx), SUM(h.status_3xx), SUM(h.status_4xx), SUM(h.status_5xx)
FROM usage_hour h LEFT JOIN api_keys k ON k.id = h.key_id
GROUP BY h.start, h.consumer_id, COALESCE(k.plan_id, ''), h.api_id, h.outcome;
`,
};
