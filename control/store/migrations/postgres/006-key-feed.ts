// PostgreSQL's version 6, as SQLite's 006-key-feed (see there for what each table is for). The epoch is made from
// random() here; key writers serialize on an advisory lock (store/postgres/keyfeed.ts) so revision order is commit order.
import type { Migration } from '../index.js';

export const keyFeed: Migration = {
  version: 6,
  name: 'key-feed',
  sql: `
CREATE TABLE feed_state (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  epoch TEXT NOT NULL,
  head BIGINT NOT NULL,
  scope_revision BIGINT NOT NULL,
  horizon BIGINT NOT NULL,
  digests_ready INTEGER NOT NULL
);
INSERT INTO feed_state (id, epoch, head, scope_revision, horizon, digests_ready)
  VALUES (1, md5(random()::text || clock_timestamp()::text || pg_backend_pid()::text), 0, 0, 0, 0);
CREATE TABLE key_changes (
  revision BIGINT PRIMARY KEY,
  key_id TEXT NOT NULL,
  op TEXT NOT NULL,
  digest TEXT NOT NULL,
  consumer_id TEXT NOT NULL,
  plan_id TEXT NOT NULL,
  expires_at BIGINT NOT NULL,
  at BIGINT NOT NULL
);
CREATE INDEX key_changes_at ON key_changes (at);
CREATE TABLE feed_plan_digests (plan_id TEXT PRIMARY KEY, digest TEXT NOT NULL);
CREATE TABLE feed_scope_changes (target_id TEXT PRIMARY KEY, revision BIGINT NOT NULL);
ALTER TABLE api_keys ADD COLUMN expired_at BIGINT;
CREATE INDEX api_keys_live_expiry ON api_keys (expires_at) WHERE revoked_at IS NULL AND expired_at IS NULL AND expires_at IS NOT NULL;
CREATE INDEX api_keys_feed ON api_keys (digest COLLATE "C") WHERE revoked_at IS NULL AND expired_at IS NULL;
`,
};
