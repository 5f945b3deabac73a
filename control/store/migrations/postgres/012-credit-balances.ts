// PostgreSQL's version 12, as SQLite's 012-credit-balances (see there for what each table is for). Subscriptions sort
// bytewise (COLLATE "C"), as the key feed pages by them on both backends.
import type { Migration } from '../index.js';

export const creditBalances: Migration = {
  version: 12,
  name: 'credit-balances',
  sql: `
CREATE TABLE credit_balances (
  subscription TEXT COLLATE "C" PRIMARY KEY,
  plan_id TEXT NOT NULL REFERENCES plans(id),
  consumer_id TEXT NOT NULL REFERENCES consumers(id),
  grant_id TEXT NOT NULL UNIQUE,
  balance BIGINT NOT NULL,
  refill_amount BIGINT,
  refill_per TEXT,
  since BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX credit_balances_consumer ON credit_balances (consumer_id);
CREATE INDEX credit_balances_plan ON credit_balances (plan_id);
CREATE TABLE credit_spend (
  grant_id TEXT NOT NULL,
  from_minute BIGINT NOT NULL,
  reporter TEXT NOT NULL,
  units BIGINT NOT NULL,
  PRIMARY KEY (grant_id, from_minute, reporter)
);
CREATE TABLE credit_changes (
  revision BIGINT PRIMARY KEY,
  subscription TEXT NOT NULL,
  plan_id TEXT NOT NULL,
  op TEXT NOT NULL,
  grant_id TEXT NOT NULL,
  balance BIGINT NOT NULL,
  refill_amount BIGINT NOT NULL,
  refill_per TEXT NOT NULL,
  since BIGINT NOT NULL,
  at BIGINT NOT NULL
);
CREATE INDEX credit_changes_at ON credit_changes (at);
`,
};
