// PostgreSQL's version 16, as SQLite's 016-usage-billing: usage per hour, consumer, plan, API, operation and outcome,
// copied from usage_hour for rows stored before (the key's plan now, operation ''). It is written by the rollup from
// the batch log, whose texts gain two rows (operation, plan) last: a log written before has neither, read as
// operation '' and the key's plan at the fold (store/postgres/usage.ts).
import type { Migration } from '../index.js';

const T = 'TEXT COLLATE "C"';

export const usageBilling: Migration = {
  version: 16,
  name: 'usage-billing',
  sql: `
CREATE TABLE usage_billing_hour (
  start BIGINT NOT NULL, consumer_id ${T} NOT NULL, plan_id ${T} NOT NULL, api_id ${T} NOT NULL, operation_id ${T} NOT NULL,
  outcome ${T} NOT NULL, count BIGINT NOT NULL, units BIGINT NOT NULL, would_reject BIGINT NOT NULL,
  status_1xx BIGINT NOT NULL, status_2xx BIGINT NOT NULL, status_3xx BIGINT NOT NULL, status_4xx BIGINT NOT NULL, status_5xx BIGINT NOT NULL,
  PRIMARY KEY (start, consumer_id, plan_id, api_id, operation_id, outcome)
);
INSERT INTO usage_billing_hour
SELECT h.start, h.consumer_id, COALESCE(k.plan_id, ''), h.api_id, '', h.outcome, SUM(h.count),
  SUM(COALESCE(h.units, CASE WHEN h.outcome = 'allowed' THEN h.count ELSE 0 END)), SUM(COALESCE(h.would_reject, 0)),
  SUM(h.status_1xx), SUM(h.status_2xx), SUM(h.status_3xx), SUM(h.status_4xx), SUM(h.status_5xx)
FROM usage_hour h LEFT JOIN api_keys k ON k.id = h.key_id
GROUP BY h.start, h.consumer_id, COALESCE(k.plan_id, ''), h.api_id, h.outcome;
`,
};
