import type { Migration } from './index.js';

// Version 6: the key feed (docs/key-feed.md). Keys leave the WasmPlugin and stream to proxies as a snapshot, then
// deltas since a revision, so every key write also appends to key_changes in its own transaction.
// - feed_state: one row. `epoch` names this revision history: a new store, or one copied by `tollgate migrate-store`,
//   gets a new one, so a proxy's revision from another history is refused (410) instead of misread. `head`: the
//   latest revision. `scope_revision`: a scope change for every target at once (unused today: kept for changes
//   that cannot say which targets they affect). `horizon`: revisions up to it were pruned from key_changes.
//   `digests_ready`: 0 until the service has computed feed_plan_digests from the keys present at upgrade (SHA-256 is
//   not available in SQLite's SQL, so that step runs in the service on open).
// - feed_plan_digests: the set digest (contracts/key-feed.ts) of each plan's keys, kept by XOR in the writing
//   transaction; a target's digest is the XOR over the plans of its scope, so a read never hashes the set.
// - feed_scope_changes: per target, the revision of the last change to which plans its scope holds (a plan's or the
//   target's apiIds): that target's deltas from before it cannot be served. Other targets are not affected.
// - api_keys.expired_at: set by the expiry sweeper when it takes an expired key out of the set.
export const keyFeed: Migration = {
  version: 6,
  name: 'key-feed',
  sql: `
CREATE TABLE feed_state (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  epoch TEXT NOT NULL,
  head INTEGER NOT NULL,
  scope_revision INTEGER NOT NULL,
  horizon INTEGER NOT NULL,
  digests_ready INTEGER NOT NULL
);
INSERT INTO feed_state (id, epoch, head, scope_revision, horizon, digests_ready) VALUES (1, lower(hex(randomblob(16))), 0, 0, 0, 0);
CREATE TABLE key_changes (
  revision INTEGER PRIMARY KEY,
  key_id TEXT NOT NULL,
  op TEXT NOT NULL,
  digest TEXT NOT NULL,
  consumer_id TEXT NOT NULL,
  plan_id TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  at INTEGER NOT NULL
);
CREATE TABLE feed_plan_digests (plan_id TEXT PRIMARY KEY, digest TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE feed_scope_changes (target_id TEXT PRIMARY KEY, revision INTEGER NOT NULL) WITHOUT ROWID;
ALTER TABLE api_keys ADD COLUMN expired_at INTEGER;
CREATE INDEX api_keys_live_expiry ON api_keys(expires_at) WHERE revoked_at IS NULL AND expired_at IS NULL AND expires_at IS NOT NULL;
`,
};
