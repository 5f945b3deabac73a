import type { Migration } from './index.js';

// Version 12: credit balances (issue 13; docs/control.md "Credits", docs/key-feed.md "Credits").
// - credit_balances: a subscription's one balance. `subscription` (`<planId>/<consumerId>`) is the key the key feed
//   pages by; `grant_id` is new on every set; `since` a minute boundary; refill_amount/refill_per both NULL or both set.
// - credit_spend: units of allowed requests per grant, period start (`from_minute`) and reporter, added once per batch
//   in the batch's transaction (so `others` = total − the asker's own, as fleet windows).
// - credit_changes: the key feed's log of balance changes, sharing revisions with key_changes (feed_state.head).
// Plans and keys are untouched; balances' digests are XORed into feed_plan_digests like their plan's keys.
export const creditBalances: Migration = {
  version: 12,
  name: 'credit-balances',
  sql: `
CREATE TABLE credit_balances (
  subscription TEXT PRIMARY KEY,
  plan_id TEXT NOT NULL REFERENCES plans(id),
  consumer_id TEXT NOT NULL REFERENCES consumers(id),
  grant_id TEXT NOT NULL UNIQUE,
  balance INTEGER NOT NULL,
  refill_amount INTEGER,
  refill_per TEXT,
  since INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX credit_balances_consumer ON credit_balances(consumer_id);
CREATE INDEX credit_balances_plan ON credit_balances(plan_id);
CREATE TABLE credit_spend (
  grant_id TEXT NOT NULL,
  from_minute INTEGER NOT NULL,
  reporter TEXT NOT NULL,
  units INTEGER NOT NULL,
  PRIMARY KEY (grant_id, from_minute, reporter)
) WITHOUT ROWID;
CREATE TABLE credit_changes (
  revision INTEGER PRIMARY KEY,
  subscription TEXT NOT NULL,
  plan_id TEXT NOT NULL,
  op TEXT NOT NULL,
  grant_id TEXT NOT NULL,
  balance INTEGER NOT NULL,
  refill_amount INTEGER NOT NULL,
  refill_per TEXT NOT NULL,
  since INTEGER NOT NULL,
  at INTEGER NOT NULL
);
`,
};
